import * as core from '@actions/core'
import { Reporter } from './report'
import { INPUTS } from './input-spec'

export const CLEANUP_STATE = 'pending-cleanup'

/** Registers every line of every secret input, so no part of one is ever printed. */
export function maskSecrets(): void {
  for (const { name } of INPUTS.filter((input) => input.secret)) {
    const value = core.getInput(name)
    if (!value) continue
    core.setSecret(value)
    for (const line of value.split(/\r?\n/)) {
      if (line.trim()) core.setSecret(line.trim())
    }
  }
}

/**
 * Log groups per step: each `----->` banner of the remote script opens a
 * collapsible group (Actions groups do not nest, so a new one closes the last).
 */
export function actionReporter(): Reporter {
  let open = false
  const close = (): void => {
    if (open) core.endGroup()
    open = false
  }
  const start = (title: string): void => {
    close()
    core.startGroup(title)
    open = true
  }
  return {
    info: (line) => (line.startsWith('-----> ') ? start(line.slice(7)) : core.info(line)),
    warning: (line) => core.warning(line),
    group: async (title, work) => {
      start(title)
      try {
        return await work()
      } finally {
        close()
      }
    },
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
