import { ReleasePlan } from './plan'
import { quote } from '../config/shell-quote'
import { LIBRARY } from './library'
import { CACHE_FUNCTIONS } from './cache'
import {
  LINK_SHARED_FUNCTION,
  PRUNE_FUNCTION,
  Step,
  afterActivate,
  beforeActivate,
  callStep,
  checkLayout,
  checkRelease,
  linkShared,
  promoteStaging,
  pruneReleases,
  receiveUpload,
  revertSwitch,
  markBad,
  requireLockStep,
  renderStep,
  resumeWithLock,
  checkLayoutExists,
  pickRollbackTarget,
  rollbackBeforeActivate,
  switchBack,
  rollbackAfterActivate,
  listReleases,
  forceUnlock,
  readCacheManifest,
  switchCurrent,
  takeLockStep
} from './steps'

/**
 * A deploy is a short series of scripts over one connection, so that several
 * hosts can all be prepared before any switches, and all switch before any
 * runs after-activate. The lock is held from `prepare` until `finish`,
 * `revert` or `abort` frees it.
 *
 * prepare: layout, lock, checks, upload, release, shared, before-activate
 * switch:  current -> the new release (read back), logged as deployed
 * after:   after-activate
 * revert:  current -> the previous release, the new one marked bad
 * finish:  prune, unlock
 * abort:   remove the prepared release, unlock
 */
export function prepareScript(plan: ReleasePlan): string {
  const steps = [checkLayout, takeLockStep, checkRelease, receiveUpload, promoteStaging, linkShared(plan)]
  return assemble('prepare', plan, plan.beforeActivate ? [...steps, beforeActivate] : steps, PREPARE_EXIT)
}

export function switchScript(plan: ReleasePlan): string {
  return assemble('switch', plan, [resumeWithLock, switchCurrent], KEEP_LOCK_EXIT)
}

export function afterActivateScript(plan: ReleasePlan): string {
  return assemble('after-activate', plan, plan.afterActivate ? [afterActivate] : [requireLockStep], KEEP_LOCK_EXIT)
}

export function revertScript(plan: ReleasePlan, revertTo: string): string {
  return assemble('revert', { ...plan, revertTo }, [revertSwitch], ACTIVATE_EXIT)
}

export function markBadScript(plan: ReleasePlan): string {
  return assemble('mark-bad', plan, [markBad], KEEP_LOCK_EXIT)
}

export function finishScript(plan: ReleasePlan): string {
  return assemble('finish', plan, [requireLockStep, pruneReleases], ACTIVATE_EXIT)
}

/** One host and no after-activate: switch and finish in one round trip; on failure the lock stays for revert. */
export function switchAndFinishScript(plan: ReleasePlan): string {
  return assemble('switch', plan, [resumeWithLock, switchCurrent, pruneReleases], RELEASE_ON_SUCCESS_EXIT)
}

export function abortScript(plan: ReleasePlan): string {
  const abort: Step = {
    name: 'abort',
    description: 'Removing the prepared release and freeing the lock',
    body: `
if ! own_lock; then
  say "       this run holds no lock here; nothing to undo"
  return 0
fi
LOCK_TAKEN=1
stop_lock_holder_processes
read_current
if [ "$CURRENT_ID" != "$RELEASE_ID" ]; then
  remove_tree "$RELEASE_PATH" "$STAGING"
  log_event failed "$RELEASE_ID"
  say "       removed $RELEASE_ID"
fi
release_lock
`
  }
  return assemble('abort', plan, [abort], ACTIVATE_EXIT)
}

/** A failed prepare removes what it built and frees the lock; a successful one keeps the lock for activate. */
const PREPARE_EXIT = `
on_exit() {
  status=$?
  set +e
  trap - EXIT HUP INT TERM
  trap '' PIPE
  stop_hook
  if [ "$status" != 0 ] && [ "$LOCK_TAKEN" = 1 ]; then
    [ "$STAGING_CREATED" != 1 ] || remove_tree "$STAGING" "$STAGING.failed" "$DELTA" "$CONTROL"
    if [ "$RELEASE_CREATED" = 1 ]; then
      read_current 2>/dev/null || true
      [ "$CURRENT_ID" = "$RELEASE_ID" ] || remove_tree "$RELEASE_PATH"
    fi
    # Only a release this run began is failed (not another run's id, refused
    # here); a cache miss is not a failure: the runner starts over in full.
    if [ "$status" != "$E_CACHE" ] && { [ "$STAGING_CREATED" = 1 ] || [ "$RELEASE_CREATED" = 1 ]; }; then
      log_event failed "$RELEASE_ID" || true
    fi
    release_lock || true
    say "       nothing was switched: current still points to \${PREVIOUS_RELEASE_ID:-nothing}"
  fi
  exit "$status"
}
`

/** Between the steps of a deploy the lock stays taken; the next script needs it. */
const KEEP_LOCK_EXIT = `
on_exit() {
  status=$?
  trap - EXIT HUP INT TERM
  stop_hook
  exit "$status"
}
`

const RELEASE_ON_SUCCESS_EXIT = `
on_exit() {
  status=$?
  trap - EXIT HUP INT TERM
  stop_hook
  [ "$status" != 0 ] || release_lock || true
  exit "$status"
}
`

const ACTIVATE_EXIT = `
on_exit() {
  status=$?
  set +e
  trap - EXIT HUP INT TERM
  trap '' PIPE
  stop_hook
  release_lock || true
  exit "$status"
}
`

/** Rollback: the same switch, pointed at an earlier release; hooks run with DEPLOY_MODE=rollback. */
export function rollbackScript(plan: ReleasePlan): string {
  const steps = [checkLayoutExists, takeLockStep, pickRollbackTarget, ...(plan.beforeActivate ? [rollbackBeforeActivate] : []), switchBack]
  return assemble('rollback', plan, plan.afterActivate ? [...steps, rollbackAfterActivate] : steps, ACTIVATE_EXIT)
}

/** Prints the upload cache's manifest when the cache is usable; changes nothing. */
export function readCacheScript(plan: ReleasePlan): string {
  return assemble('read-cache', plan, [readCacheManifest], KEEP_LOCK_EXIT)
}

/** Prints what is on the server; changes nothing and takes no lock. */
export function listScript(plan: ReleasePlan): string {
  return assemble('list', plan, [listReleases], ACTIVATE_EXIT)
}

/** Frees a lock left behind, saying who held it and since when. */
export function unlockScript(plan: ReleasePlan): string {
  return assemble('unlock', plan, [forceUnlock], ACTIVATE_EXIT)
}

/** The phase a script was made for, from its header line (`# atomic-deploy <phase> script ...`); fakes and logs use it. */
export function phaseOf(script: string): string | undefined {
  return /^# atomic-deploy (\S+) script/m.exec(script)?.[1]
}

function assemble(phase: string, plan: ReleasePlan & { revertTo?: string }, steps: Step[], exitHandler: string): string {
  return [
    `#!/bin/sh`,
    `# Values are assigned for every phase, so some go unused in this one; they`,
    `# are data, so quotes, $ and backticks in them are meant literally.`,
    `# shellcheck disable=SC2034,SC2016,SC2089,SC2090`,
    `# atomic-deploy ${phase} script for release ${plan.releaseId.replace(/[^\w.-]/g, '?')}.`,
    `# Generated; every value from the settings is assigned once below, quoted.`,
    `set -eu`,
    ``,
    `# ---- values from the deploy settings --------------------------------------`,
    values(plan),
    LIBRARY.trim(),
    ``,
    `# ---- phase helpers ----------------------------------------------------------`,
    DECOMPRESS_FUNCTION.trim(),
    CACHE_FUNCTIONS.trim(),
    LINK_SHARED_FUNCTION.trim(),
    PRUNE_FUNCTION.trim(),
    exitHandler.trim(),
    ``,
    `# ---- steps -----------------------------------------------------------------`,
    steps.map(renderStep).join('\n\n'),
    ``,
    `# ---- ${phase} ---------------------------------------------------------------`,
    `trap on_exit EXIT`,
    `trap 'exit 129' HUP`,
    `trap 'exit 130' INT`,
    `trap 'exit 143' TERM`,
    `trap 'exit 141' PIPE`,
    ...steps.map(callStep),
    `result finished ${quote(phase)}`,
    ``
  ].join('\n')
}

function values(plan: ReleasePlan & { revertTo?: string }): string {
  const assignments: Array<[string, string | number]> = [
    ['DEPLOY_PATH', plan.deployPath],
    ['RELEASE_ID', plan.releaseId],
    ['KEEP', plan.keep],
    ['LOCK_TIMEOUT', plan.lockTimeoutSeconds],
    ['LOCK_TOKEN', plan.lockToken],
    ['LOCK_OWNER', plan.lockOwner],
    ['LOG_FIELDS', plan.logFields],
    ['COMPRESSION', plan.compression],
    ['EXPECTED_ENTRIES', plan.expectedEntries],
    ['HOOK_BEFORE_ACTIVATE', plan.beforeActivate],
    ['HOOK_AFTER_ACTIVATE', plan.afterActivate],
    ['REVERT_TO', plan.revertTo ?? ''],
    ['COMMAND_TIMEOUT', plan.commandTimeoutSeconds],
    ['INCREMENTAL', plan.incremental ? 1 : 0],
    ['CACHE_BASE', plan.cacheBase],
    ['NEXT_DIGEST', plan.nextDigest],
    ['HARDLINK_RELEASE', plan.hardlinkRelease ? 1 : 0]
  ]
  return [
    ...assignments.map(([name, value]) => `${name}=${quote(value)}`),
    'RELEASE_PATH="$DEPLOY_PATH/releases/$RELEASE_ID"',
    'STAGING="$DEPLOY_PATH/.atomic-deploy/staging/$RELEASE_ID"',
    'PREVIOUS_RELEASE_ID=',
    `DEPLOY_MODE=${quote(plan.mode)}`,
    'STAGING_CREATED=0',
    'RELEASE_CREATED=0'
  ].join('\n')
}

const DECOMPRESS_FUNCTION = `
decompress() {
  case $COMPRESSION in
    gzip) gzip -dc ;;
    zstd) zstd -dc ;;
    *) cat ;;
  esac
}
`
