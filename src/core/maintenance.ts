import { DeploySettings } from '../config/settings'
import { Connection } from '../ssh/connection'
import { planBase, planList } from '../remote/plan'
import { listScript, unlockScript } from '../remote/scripts'
import { Reporter } from './reporter'
import { RESULT_KEYS, ScriptResult, lastResult } from '../ssh/protocol'
import { RemoteError, remoteFailure } from './errors'
import { ServerListing, parseReleases } from './releases'

/**
 * Runs the list script, which changes nothing and takes no lock. Given
 * `wouldDeploy`, the would-be new release id (NEW_RELEASE_ID, with keep as
 * KEEP), the server also says what a deploy of it would prune.
 */
export async function listOn(host: Connection, settings: DeploySettings, wouldDeploy = ''): Promise<ServerListing> {
  const result = await host.run(listScript(planList(settings, wouldDeploy)))
  if (result.code !== 0) throw remoteFailure(result, host.name)
  const wouldPrune = lastResult(result, 'would-prune')
  return {
    ...listingOf(result, host.name),
    lockHolder: lastResult(result, 'lock'),
    rollbackTarget: lastResult(result, 'rollback-target'),
    wouldPrune: wouldPrune === undefined ? undefined : wouldPrune.split(' ').filter(Boolean)
  }
}

/**
 * The release list a finish, switch-and-finish or rollback script printed at
 * its end, so that no list script need follow it; undefined when it did not
 * come whole (no @@listed line) or the script failed.
 */
export function listingAtEnd(result: ScriptResult, host: string): ServerListing | undefined {
  if (result.code !== 0 || lastResult(result, 'listed') === undefined) return undefined
  return listingOf(result, host)
}

function listingOf(result: ScriptResult, host: string): ServerListing {
  return { host, releases: parseReleases(result), current: lastResult(result, 'current') ?? '' }
}

const REPORTED = {
  rollbackTarget: { key: RESULT_KEYS.rollbackTarget, what: 'the release a rollback would switch to' },
  wouldPrune: { key: RESULT_KEYS.wouldPrune, what: 'the releases this deploy would prune' }
} as const

/** A value only the server can decide: its absence is an error, never a guess made on the runner. */
export function reported<K extends keyof typeof REPORTED>(listing: ServerListing, name: K): NonNullable<ServerListing[K]> {
  const value = listing[name]
  if (value !== undefined && value !== null) return value
  const { key, what } = REPORTED[name]
  throw new RemoteError(
    `${listing.host}, step list: the server script did not report ${what} (no @@${key} line), and the runner does not guess it. The list script that this version of atomic-deploy sends is expected to print that line; please report this as a bug.`,
    'list',
    0
  )
}

/** Removes a lock left behind; returns who held it ('' when there was none). */
export async function unlockOn(host: Connection, settings: DeploySettings, reporter: Reporter): Promise<string> {
  const result = await host.run(unlockScript(planBase(settings)), { onLog: reporter.info })
  if (result.code !== 0) throw remoteFailure(result, host.name)
  return lastResult(result, 'unlocked') ?? ''
}
