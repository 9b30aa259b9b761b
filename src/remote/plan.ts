import { randomBytes } from 'crypto'
import { DeploySettings, Mode, SharedEntry, WireCompression } from '../config/settings'

export type { WireCompression }
import { sharedLinkTarget } from '../config/shared-paths'

export interface PlannedShared extends SharedEntry {
  /** Relative symlink target, from the link's folder to `shared/<path>`. */
  linkTarget: string
}

/** Everything the remote scripts need to know, and nothing else: the input of the script generator. */
export interface ReleasePlan {
  mode: Mode
  deployPath: string
  /** The new release; for a rollback the target the user named, or ''. */
  releaseId: string
  keep: number
  shared: PlannedShared[]
  sharedAuto: boolean
  beforeActivate: string
  afterActivate: string
  revertOnFailure: boolean
  /** Seconds a hook may run before it and its processes are stopped; 0: no limit. */
  commandTimeoutSeconds: number
  lockTimeoutSeconds: number
  /** Random per run: only the run holding it may continue or free the lock. */
  lockToken: string
  /** One JSON object: who holds the lock. */
  lockOwner: string
  /** JSON members (no braces) appended to every releases-log line of this run. */
  logFields: string
  compression: WireCompression
  /** How many lines `find` prints for the unpacked upload (its root not counted). */
  expectedEntries: number
  /** Keep the upload cache on the server (the upload carries a manifest). */
  incremental: boolean
  /** Digest of the cache manifest this upload is a delta against; '' for a full upload. */
  cacheBase: string
  /** Digest the cache manifest must have after this upload. */
  nextDigest: string
  /** Build the release as a hard-linked copy of the cache (opt-in). */
  hardlinkRelease: boolean
}

export function planRelease(settings: DeploySettings, expectedEntries: number, compression: WireCompression, now = new Date()): ReleasePlan {
  const { provenance } = settings
  const lockToken = randomBytes(12).toString('hex')
  const lockOwner = JSON.stringify({
    token: lockToken,
    release: settings.releaseId,
    actor: provenance.actor,
    run: provenance.runUrl,
    runner: provenance.runner,
    since: now.toISOString().replace(/\.\d+Z$/, 'Z')
  })
  return {
    mode: settings.mode,
    deployPath: settings.deployPath,
    releaseId: settings.mode === 'deploy' || settings.releaseIdGiven ? settings.releaseId : '',
    keep: settings.keep,
    shared: settings.shared.map((entry) => ({ ...entry, linkTarget: sharedLinkTarget(entry) })),
    sharedAuto: settings.sharedAuto,
    beforeActivate: settings.beforeActivate,
    afterActivate: settings.afterActivate,
    revertOnFailure: settings.revertOnFailure,
    commandTimeoutSeconds: settings.commandTimeoutSeconds,
    lockTimeoutSeconds: settings.lockTimeoutSeconds,
    lockToken,
    lockOwner,
    logFields: logFields(settings),
    compression,
    expectedEntries,
    incremental: false,
    cacheBase: '',
    nextDigest: '',
    hardlinkRelease: settings.hardlinkReleases
  }
}

function logFields(settings: DeploySettings): string {
  const { provenance, credentials } = settings
  const fields: Record<string, string | undefined> = {
    sha: provenance.sha,
    ref: provenance.ref,
    actor: provenance.actor,
    run: provenance.runUrl,
    user: credentials.username
  }
  return Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`)
    .join(',')
}
