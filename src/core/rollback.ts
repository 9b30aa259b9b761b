import { DeploySettings } from '../config/settings'
import { Connection } from '../ssh/connection'
import { planHealth, planRollback } from '../remote/plan'
import { rollbackScript } from '../remote/scripts'
import { Reporter } from './reporter'
import { ScriptResult, lastResult } from '../ssh/protocol'
import { RemoteError, remoteFailure } from './errors'
import { checkHealthOn } from './health'
import { listOn, listingAtEnd } from './maintenance'
import { ServerListing } from './releases'

export interface RollbackOutcome {
  releaseId: string
  previousReleaseId: string
  /** The release list the rollback script reported at its end (undefined: a list script must read it). */
  listing?: ServerListing
}

/** A rollback that failed; `current` is the release the host is really on, when the run knows it. */
export class RollbackError extends RemoteError {
  constructor(
    message: string,
    step: string,
    exitCode: number | null,
    readonly current?: string
  ) {
    super(message, step, exitCode)
    this.name = 'RollbackError'
  }
}

/**
 * Switches current back: to release-id when given, else to the highest-ranked
 * good release other than current (the server's release model decides). When
 * the rollback ends without an answer, `reopen` opens a new connection to
 * read where the host really is (the result then says it).
 */
export async function rollbackOn(
  host: Connection,
  settings: DeploySettings,
  reporter: Reporter,
  reopen?: () => Promise<Connection>,
  /** Only the first host's list is shown: the others need not print one. */
  listReleases = true
): Promise<RollbackOutcome> {
  const plan = { ...planRollback(settings), listReleases }
  const target = plan.releaseId ? `release ${plan.releaseId}` : 'the previous good release'
  const result = await reporter.group(`Rolling back to ${target} on ${host.name}`, () =>
    host.run(rollbackScript(plan), { onLog: reporter.info }).catch((error: Error): ScriptResult => ({ code: null, signal: null, results: [], stdout: '', stderr: error.message }))
  )
  if (result.code === 0) {
    const outcome = { releaseId: lastResult(result, 'current') ?? '', previousReleaseId: lastResult(result, 'previous') ?? '' }
    await checkAfterRollback(host, settings, outcome.releaseId, reporter)
    return { ...outcome, listing: listingAtEnd(result, host.name) }
  }
  const failure = remoteFailure(result, host.name)
  if (result.code !== null) throw new RollbackError(failure.message, failure.step, failure.exitCode, lastResult(result, 'current') ?? lastResult(result, 'previous'))
  throw await lostRollback(failure, host.name, settings, reopen)
}

/** The rollback's answer was lost: a new connection reads the real current; the lock, if left, is taken over by the next run. */
async function lostRollback(failure: RemoteError, name: string, settings: DeploySettings, reopen?: () => Promise<Connection>): Promise<RollbackError> {
  const lock = "If this rollback's lock is left there, the next run takes it over once the rollback's processes are gone, or free it with mode: unlock."
  try {
    if (!reopen) throw new Error('reconnecting is not possible here')
    const listing = await listOn(await reopen(), settings)
    return new RollbackError(`${failure.message} Reconnected: current is ${listing.current || 'nothing'} there. ${lock}`, failure.step, null, listing.current)
  } catch (error) {
    return new RollbackError(
      `${failure.message} Could not reconnect to read where it is (${(error as Error).message}): whether it rolled back is unknown. ${lock}`,
      failure.step,
      null
    )
  }
}

/** The health checks run after a rollback too; failing, the rollback fails and says so, and does not bounce back. */
async function checkAfterRollback(host: Connection, settings: DeploySettings, releaseId: string, reporter: Reporter): Promise<void> {
  if (!settings.health || !releaseId) return
  const health = await reporter.group(`Checking the health of ${releaseId} on ${host.name}`, () =>
    checkHealthOn(host, planHealth(settings, releaseId), host.name, { onLog: reporter.info })
  )
  if (health.healthy) return
  throw new RollbackError(
    `${health.failure}. ${host.name} was rolled back to ${releaseId}, which stays current: a rollback does not bounce back. Roll back to another release (release-id), or deploy a fix.`,
    'health',
    null,
    releaseId
  )
}
