import * as core from '@actions/core'
import { parseSettings } from './inputs'
import { abortUnfinished } from './deploy'
import { CLEANUP_STATE, actionReporter, maskSecrets } from './action-helper'

/** The post step: frees this job's lock when the main step was cancelled or died mid-deploy. */
export async function run(): Promise<void> {
  const saved = core.getState(CLEANUP_STATE)
  if (!saved) return
  try {
    maskSecrets()
    const settings = parseSettings((name) => core.getInput(name), process.env)
    const cleanup = JSON.parse(saved)
    core.info(`The deploy of ${cleanup.releaseId} did not finish; removing its release and freeing its lock.`)
    await abortUnfinished(settings, cleanup, actionReporter())
  } catch (error) {
    core.warning(`Cleanup after the unfinished deploy failed: ${(error as Error).message} Free the lock with mode: unlock.`)
  }
}
