import * as core from '@actions/core'
import { Reporter } from './report'

export const CLEANUP_STATE = 'pending-cleanup'

/** Registers every line of every secret input, so no part of one is ever printed. */
export function maskSecrets(): void {
  for (const name of ['ssh-key', 'ssh-key-passphrase', 'password', 'proxy-ssh-key', 'proxy-ssh-key-passphrase', 'proxy-password']) {
    const value = core.getInput(name)
    if (!value) continue
    core.setSecret(value)
    for (const line of value.split(/\r?\n/)) {
      if (line.trim()) core.setSecret(line.trim())
    }
  }
}

export function actionReporter(): Reporter {
  return {
    info: (line) => core.info(line),
    warning: (line) => core.warning(line),
    group: (title, work) => core.group(title, work),
    rememberCleanup: (cleanup) => core.saveState(CLEANUP_STATE, cleanup ? JSON.stringify(cleanup) : '')
  }
}

/** The same bundle runs as main and as post step (as in actions/checkout); main leaves a mark in the state. */
export function isPostStep(): boolean {
  if (core.getState('isPost')) return true
  core.saveState('isPost', 'true')
  return false
}

/** Appends to the job summary when the runner provides one; a summary never fails the step. */
export async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  await core.summary
    .addRaw(markdown)
    .write()
    .catch((error: Error) => core.warning(`Could not write the job summary: ${error.message}`))
}
