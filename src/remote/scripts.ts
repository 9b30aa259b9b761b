import { quote } from '../config/shell-quote'
import {
  AbortPlan,
  AfterActivatePlan,
  FinishPlan,
  HealthPlan,
  InspectPlan,
  ListPlan,
  MarkBadPlan,
  PlanBase,
  PreparePlan,
  RevertPlan,
  RollbackPlan,
  SwitchPlan,
  UnlockPlan
} from './plan'
import { SHELL_SOURCES } from './shell-sources.generated'

/**
 * The server script is real shell: one file per phase under src/remote/sh,
 * each opening with an overview of its steps, over a library in sh/lib/.
 * A script for the server is its phase file with the library files it
 * includes inlined, after the values of the plan, each assigned once and
 * quoted. Nothing else is generated.
 *
 * A deploy is a short series of phases over one connection, so that several
 * hosts can all be prepared before any switches, and all switch before any
 * runs after-activate. The lock is held from `prepare` until `finish`,
 * `revert` or `abort` frees it.
 */
export const PHASES = [
  'prepare',
  'switch',
  'after-activate',
  'health',
  'revert',
  'mark-bad',
  'finish',
  'switch-and-finish',
  'abort',
  'recover',
  'rollback',
  'inspect',
  'list',
  'unlock'
] as const

export type Phase = (typeof PHASES)[number]

type Value = string | number | boolean

/** prepare: layout, lock, checks, upload, release, shared, before-activate. */
export function prepareScript(plan: PreparePlan): string {
  return assemble('prepare', plan, {
    LOCK_TIMEOUT: plan.lockTimeoutSeconds,
    COMPRESSION: plan.compression,
    EXPECTED_ENTRIES: plan.expectedEntries,
    INCREMENTAL: plan.incremental,
    CACHE_BASE: plan.cacheBase,
    NEXT_DIGEST: plan.nextDigest,
    HARDLINK_RELEASE: plan.hardlinkRelease,
    CONTROL_NAME: plan.controlFolder,
    RELEASE_MODE: plan.releaseMode.toString(8).padStart(4, '0'),
    SHARED_ENTRIES: plan.shared.map((entry) => (entry.isDirectory ? `${entry.path}/` : entry.path)).join('\n'),
    SHARED_AUTO: plan.sharedAuto,
    ENV_FILE_PATH: plan.envFile?.path ?? '',
    ENV_FILE_TEXT: plan.envFile?.text ?? '',
    WRITABLE_PATHS: plan.writable.paths.join('\n'),
    WRITABLE_MODE: plan.writable.mode,
    WRITABLE_USER: plan.writable.user,
    HOOK_BEFORE_ACTIVATE: plan.beforeActivate,
    COMMAND_TIMEOUT: plan.commandTimeoutSeconds,
    REVISION_FILE: plan.revisionFile,
    REVISION_SHA: plan.commitSha,
    NEEDS_HTTP_CLIENT: plan.needsHttpClient
  })
}

/** health: the URLs and the command, tried until they pass or the timeout is up; changes nothing. */
export function healthScript(plan: HealthPlan): string {
  const health = plan.health
  if (!health) throw new Error('healthScript needs a plan with health checks')
  return assemble('health', plan, {
    HEALTH_URLS: health.urls.join('\n'),
    HEALTH_EXPECT: expandReleaseId(health.expect, plan.releaseId),
    HEALTH_STATUS: health.status.map(([low, high]) => `${low}-${high}`).join(' '),
    HEALTH_TIMEOUT: health.timeoutSeconds,
    HEALTH_INTERVAL: health.intervalSeconds,
    HEALTH_COMMAND: health.command
  })
}

/** `{release-id}` in health-expect stands for the release checked. */
export function expandReleaseId(text: string, releaseId: string): string {
  return text.split('{release-id}').join(releaseId)
}

/** switch: current -> the new release (read back), logged as deployed. */
export function switchScript(plan: SwitchPlan): string {
  return assemble('switch', plan, {})
}

/** after-activate: the hook, with the new release current. */
export function afterActivateScript(plan: AfterActivatePlan): string {
  return assemble('after-activate', plan, { HOOK_AFTER_ACTIVATE: plan.afterActivate, COMMAND_TIMEOUT: plan.commandTimeoutSeconds })
}

/** revert: current -> the release before (`revertTo`), the new one marked bad. */
export function revertScript(plan: RevertPlan, revertTo: string): string {
  return assemble('revert', plan, { REVERT_TO: revertTo })
}

export function markBadScript(plan: MarkBadPlan): string {
  return assemble('mark-bad', plan, {})
}

/** finish: prune, start the spare copy of the cache, unlock. */
export function finishScript(plan: FinishPlan): string {
  return assemble('finish', plan, finishValues(plan))
}

/** One host and no after-activate: switch and finish in one round trip; on failure the lock stays for revert. */
export function switchAndFinishScript(plan: FinishPlan): string {
  return assemble('switch-and-finish', plan, finishValues(plan))
}

function finishValues(plan: FinishPlan): Record<string, Value> {
  return { KEEP: plan.keep, LIST_RELEASES: plan.listReleases, SPARE_COPY: plan.incremental && !plan.hardlinkRelease }
}

/** abort: remove the prepared release, unlock (only this run's lock). */
export function abortScript(plan: AbortPlan): string {
  return assemble('abort', plan, {})
}

/** recover: on a new connection after one was lost, stop what is left of this run's script, then report current, the switch and the lock (kept for the next phase). */
export function recoverScript(plan: PlanBase): string {
  return assemble('recover', plan, {})
}

/** Rollback: the same switch, pointed at an earlier release; hooks run with DEPLOY_MODE=rollback. */
export function rollbackScript(plan: RollbackPlan): string {
  return assemble('rollback', plan, {
    LOCK_TIMEOUT: plan.lockTimeoutSeconds,
    HOOK_BEFORE_ACTIVATE: plan.beforeActivate,
    HOOK_AFTER_ACTIVATE: plan.afterActivate,
    COMMAND_TIMEOUT: plan.commandTimeoutSeconds,
    LIST_RELEASES: plan.listReleases
  })
}

/** Which tools the server has, and the upload cache's manifest when the cache is usable; changes nothing. */
export function inspectScript(plan: InspectPlan): string {
  return assemble('inspect', plan, {})
}

/** What is on the server, the rollback target, and what a deploy of `plan.newReleaseId` would prune; changes nothing. */
export function listScript(plan: ListPlan): string {
  return assemble('list', plan, { KEEP: plan.keep, NEW_RELEASE_ID: plan.newReleaseId })
}

/** Frees a lock left behind, saying who held it and since when. */
export function unlockScript(plan: UnlockPlan): string {
  return assemble('unlock', plan, {})
}

/** The phase a script was made for, from its header line (`# atomic-deploy <phase> script ...`); fakes and logs use it. */
export function phaseOf(script: string): string | undefined {
  return /^# atomic-deploy (\S+) script/m.exec(script)?.[1]
}

/** The file of a phase with its library inlined, and the values assigned after its overview. */
export function assemble(phase: Phase, plan: PlanBase, values: Record<string, Value>): string {
  const source = SHELL_SOURCES[`${phase}.sh`]
  if (source === undefined) throw new Error(`no shell source for phase ${phase}`)
  const all: Record<string, Value> = {
    DEPLOY_PATH: plan.deployPath,
    RELEASE_ID: plan.releaseId,
    DEPLOY_MODE: plan.mode,
    LOCK_TOKEN: plan.lockToken,
    LOCK_OWNER: plan.lockOwner,
    LOG_FIELDS: plan.logFields,
    ...values
  }
  const overview = /^#!\/bin\/sh\n((?:#.*\n)*)/.exec(source)
  if (!overview) throw new Error(`${phase}.sh must open with #!/bin/sh and its overview`)
  const assignments = Object.entries(all).map(([name, value]) => `${name}=${quote(typeof value === 'boolean' ? (value ? 1 : 0) : value)}`)
  return [
    '#!/bin/sh',
    overview[1].trimEnd(),
    '',
    '# ---- values: generated, each assigned once, single-quoted ----------------',
    ...assignments,
    '',
    inline(source.slice(overview[0].length).trim(), phase),
    ''
  ].join('\n')
}

const INCLUDE = /^# shellcheck source=(lib\/[\w.-]+\.sh)\n\. "\$ATOMIC_DEPLOY_LIB\/(lib\/[\w.-]+\.sh)"$/gm

/** Replaces each `. "$ATOMIC_DEPLOY_LIB/lib/x.sh"` (with its shellcheck line) by the file. */
function inline(text: string, phase: string): string {
  const inlined = text.replace(INCLUDE, (_line, directive: string, file: string) => {
    const lib = SHELL_SOURCES[file]
    if (directive !== file || lib === undefined) throw new Error(`${phase}.sh includes ${file}, which is not in src/remote/sh (or its shellcheck line names another file)`)
    return `# ---- ${file} ${'-'.repeat(Math.max(0, 70 - file.length))}\n${lib.trim()}\n# ---- end of ${file}`
  })
  if (inlined.includes('$ATOMIC_DEPLOY_LIB')) throw new Error(`${phase}.sh has an include the assembler cannot inline`)
  return inlined
}
