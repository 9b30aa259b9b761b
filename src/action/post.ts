import * as core from '@actions/core'
import { parseSettings } from '../config/inputs'
import { abortUnfinished } from '../core/abort'
import { actionReporter } from './reporter'
import { maskSecrets } from './secrets'
import { loadPendingCleanup } from './state'

/** The post step: frees this job's lock when the main step was cancelled or died mid-deploy. */
export async function run(): Promise<void> {
  try {
    const cleanup = loadPendingCleanup()
    if (!cleanup) return
    maskSecrets()
    const settings = parseSettings((name) => core.getInput(name), process.env)
    core.info(`The deploy of ${cleanup.releaseId} did not finish; removing its release and freeing its lock.`)
    await abortUnfinished(settings, cleanup, actionReporter())
  } catch (error) {
    core.warning(`Cleanup after the unfinished deploy failed: ${(error as Error).message} Free the lock with mode: unlock.`)
  }
}
