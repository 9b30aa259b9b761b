import * as core from '@actions/core'
import { parseSettings } from './inputs'
import { abortPrepared, deploy } from './deploy'
import { CLEANUP_STATE, actionReporter, isPostStep, maskSecrets } from './action-helper'

/** The GitHub Action front end: inputs in, core deploy, outputs out. */
async function runMain(): Promise<void> {
  try {
    maskSecrets()
    const settings = parseSettings((name) => core.getInput(name), process.env)
    const outcome = await deploy(settings, actionReporter())
    core.setOutput('release-id', outcome.releaseId)
    core.setOutput('release-path', outcome.releasePath)
    core.setOutput('previous-release-id', outcome.previousReleaseId)
    core.notice(`Released ${outcome.releaseId} on ${outcome.host} in ${outcome.seconds.toFixed(1)} s`)
  } catch (error) {
    core.setFailed((error as Error).message)
  }
}

/** The post step: frees this job's lock when the main step was cancelled or died mid-deploy. */
async function runPost(): Promise<void> {
  const saved = core.getState(CLEANUP_STATE)
  if (!saved) return
  try {
    maskSecrets()
    const settings = parseSettings((name) => core.getInput(name), process.env)
    const cleanup = JSON.parse(saved)
    core.info(`The deploy of ${cleanup.releaseId} did not finish; removing its release and freeing its lock.`)
    await abortPrepared(settings, cleanup, actionReporter())
  } catch (error) {
    core.warning(`Cleanup after the unfinished deploy failed: ${(error as Error).message} Free the lock with mode: unlock.`)
  }
}

void (isPostStep() ? runPost() : runMain())
