import { randomBytes } from 'crypto'
import { DeploySettings, EnvFile, HealthSettings, Mode, SharedEntry, WireCompression, WritableSettings } from '../config/settings'

export type { WireCompression }

/**
 * What every phase's script is given: where, which release, whose lock, and
 * what to write into the releases log. Each phase adds only what it reads.
 */
export interface PlanBase {
  mode: Mode
  deployPath: string
  /** The new release; for a rollback the target the user named, or ''. */
  releaseId: string
  /** Random per run: only the run holding it may continue or free the lock. */
  lockToken: string
  /** One JSON object: who holds the lock. */
  lockOwner: string
  /** JSON members (no braces) appended to every releases-log line of this run. */
  logFields: string
}

/** A phase that takes the lock waits this long for another run to free it. */
export interface LockWait {
  lockTimeoutSeconds: number
}

/** A phase that runs the user's commands. */
export interface HookLimit {
  /** Seconds a hook may run before it and its processes are stopped; 0: no limit. */
  commandTimeoutSeconds: number
}

/** prepare: the upload, the shared paths and before-activate. */
export interface PreparePlan extends PlanBase, LockWait, HookLimit {
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
  /** The folder at the top of the upload that carries the incremental lists (controlFolderName). */
  controlFolder: string
  /** Permission bits the release root gets: the workspace root's, whatever the server's umask. */
  releaseMode: number
  /** Travels as data (one entry a line, `/` after a folder); the server computes the link targets. */
  shared: SharedEntry[]
  sharedAuto: boolean
  /** Written into the release before before-activate; its text travels only inside the script, on stdin. */
  envFile?: EnvFile
  /** Folders opened to the web server's user, before env-file (whose mode 600 they must not open) and before-activate. */
  writable: WritableSettings
  beforeActivate: string
  /** Written into the release (relative path): the release id, then the commit sha. '' for none. */
  revisionFile: string
  /** The commit the release was built from, for the revision file ('' when unknown). */
  commitSha: string
  /** health-url is set: the server must have an HTTP client, checked before anything changes. */
  needsHttpClient: boolean
}

/** health: the checks, run on the release `releaseId` names. */
export interface HealthPlan extends PlanBase {
  /** undefined: no checks. */
  health?: HealthSettings
}

export interface AfterActivatePlan extends PlanBase, HookLimit {
  afterActivate: string
}

/** finish and switch-and-finish: the prune, then (incremental, without hardlink-releases) the spare copy of the cache. */
export interface FinishPlan extends PlanBase, Pick<PreparePlan, 'incremental' | 'hardlinkRelease'> {
  /** Good releases to keep, the current one included. */
  keep: number
  /** The finish also prints the release list for the run's outputs (the first host), so no list script follows it. */
  listReleases: boolean
}

export interface RollbackPlan extends PlanBase, LockWait, HookLimit {
  beforeActivate: string
  afterActivate: string
  /** The rollback also prints the release list for the run's outputs (the first host), so no list script follows it. */
  listReleases: boolean
}

/** list: reads the server; with a would-be release id it also says what that deploy would prune. */
export interface ListPlan extends PlanBase {
  keep: number
  /** '' for no would-prune report. */
  newReleaseId: string
}

/** switch, revert, mark-bad, abort, inspect and unlock need nothing more. */
export type SwitchPlan = PlanBase
export type RevertPlan = PlanBase
export type MarkBadPlan = PlanBase
export type AbortPlan = PlanBase
export type InspectPlan = PlanBase
export type UnlockPlan = PlanBase

/** A deploy runs several phases with one plan: the union of what they need. */
export interface DeployPlan extends PreparePlan, AfterActivatePlan, FinishPlan, HealthPlan {}

/** The common part of every plan: a fresh lock token, and who this run is. */
export function planBase(settings: DeploySettings, now = new Date()): PlanBase {
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
    lockToken,
    lockOwner,
    logFields: logFields(settings)
  }
}

/** The plan of a deploy, for every phase it runs. */
export function planRelease(settings: DeploySettings, expectedEntries: number, releaseMode: number, compression: WireCompression, now = new Date()): DeployPlan {
  return {
    ...planBase(settings, now),
    keep: settings.keep,
    listReleases: true,
    shared: settings.shared,
    sharedAuto: settings.sharedAuto,
    envFile: settings.envFile,
    writable: settings.writable,
    beforeActivate: settings.beforeActivate,
    afterActivate: settings.afterActivate,
    commandTimeoutSeconds: settings.commandTimeoutSeconds,
    lockTimeoutSeconds: settings.lockTimeoutSeconds,
    compression,
    expectedEntries,
    incremental: false,
    cacheBase: '',
    nextDigest: '',
    hardlinkRelease: settings.hardlinkReleases,
    controlFolder: controlFolderName(),
    releaseMode,
    revisionFile: settings.revisionFile ?? '',
    commitSha: settings.provenance.sha ?? '',
    needsHttpClient: (settings.health?.urls.length ?? 0) > 0,
    health: settings.health
  }
}

/**
 * The name the upload's control members arrive under, beside the workspace's
 * top-level entries: random per run, so that no workspace can hold it (a
 * fixed name made a workspace entry of that name undeployable).
 */
export function controlFolderName(): string {
  return `.atomic-deploy-control-${randomBytes(8).toString('hex')}`
}

/** The health plan for the release a rollback went to. */
export function planHealth(settings: DeploySettings, releaseId: string, now = new Date()): HealthPlan {
  return { ...planBase(settings, now), releaseId, health: settings.health }
}

export function planRollback(settings: DeploySettings, now = new Date()): RollbackPlan {
  return {
    ...planBase(settings, now),
    lockTimeoutSeconds: settings.lockTimeoutSeconds,
    commandTimeoutSeconds: settings.commandTimeoutSeconds,
    beforeActivate: settings.beforeActivate,
    afterActivate: settings.afterActivate,
    listReleases: true
  }
}

/** `newReleaseId`: a would-be deploy whose prune the list should report (the dry run's release id). */
export function planList(settings: DeploySettings, newReleaseId = '', now = new Date()): ListPlan {
  return { ...planBase(settings, now), keep: settings.keep, newReleaseId }
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
