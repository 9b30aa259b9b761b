import * as core from '@actions/core'
import { PendingCleanup } from '../core/reporter'

/**
 * What the main step leaves for the post step, typed. The same bundle runs
 * as both (as in actions/checkout); the main step marks the state so the
 * post step knows it is the post step.
 */
const POST_MARK = 'isPost'
const CLEANUP = 'pending-cleanup'

export function isPostStep(): boolean {
  if (core.getState(POST_MARK)) return true
  core.saveState(POST_MARK, 'true')
  return false
}

/** Saves (or, with undefined, clears) what the post step must undo if this job is cancelled. */
export function savePendingCleanup(cleanup: PendingCleanup | undefined): void {
  core.saveState(CLEANUP, cleanup ? JSON.stringify(cleanup) : '')
}

/** What the main step left to undo; undefined when it finished (or never started a deploy). */
export function loadPendingCleanup(): PendingCleanup | undefined {
  const saved = core.getState(CLEANUP)
  if (!saved) return undefined
  const value = JSON.parse(saved) as Partial<PendingCleanup>
  const isText = (x: unknown): x is string => typeof x === 'string'
  if (!Array.isArray(value.hosts) || !isText(value.deployPath) || !isText(value.releaseId) || !isText(value.lockToken) || !isText(value.logFields)) {
    throw new Error(`the saved state of the main step is not a pending cleanup: ${saved.slice(0, 200)}`)
  }
  return value as PendingCleanup
}
