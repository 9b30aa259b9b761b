import { ReleasePlan } from '../plan'
import { quote } from './quote'
import { LIBRARY } from './library'
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
  renderStep,
  resumeWithLock,
  checkLayoutExists,
  pickRollbackTarget,
  rollbackBeforeActivate,
  switchBack,
  rollbackAfterActivate,
  listReleases,
  forceUnlock,
  switchCurrent,
  takeLockStep
} from './steps'

/**
 * A deploy is two scripts run over one connection: `prepare` (lock, upload,
 * shared, before-activate; keeps the lock on success) and `activate` (switch,
 * after-activate, prune; frees the lock). Split this way, several hosts can all
 * be prepared before any of them switches. `abort` undoes a prepared release.
 */
export function prepareScript(plan: ReleasePlan): string {
  return assemble('prepare', plan, [checkLayout, takeLockStep, checkRelease, receiveUpload, promoteStaging, linkShared(plan), beforeActivate], PREPARE_EXIT)
}

export function activateScript(plan: ReleasePlan): string {
  return assemble('activate', plan, [resumeWithLock, switchCurrent, afterActivate, pruneReleases], ACTIVATE_EXIT)
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
  rm -rf "$RELEASE_PATH" "$STAGING"
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
  if [ "$status" != 0 ] && [ "$LOCK_TAKEN" = 1 ]; then
    [ "$STAGING_CREATED" != 1 ] || rm -rf "$STAGING" "$STAGING.failed"
    if [ "$RELEASE_CREATED" = 1 ]; then
      read_current 2>/dev/null || true
      [ "$CURRENT_ID" = "$RELEASE_ID" ] || rm -rf "$RELEASE_PATH"
    fi
    log_event failed "$RELEASE_ID" || true
    release_lock || true
    say "       nothing was switched: current still points to \${PREVIOUS_RELEASE_ID:-nothing}"
  fi
  exit "$status"
}
`

const ACTIVATE_EXIT = `
on_exit() {
  status=$?
  set +e
  trap - EXIT HUP INT TERM
  trap '' PIPE
  release_lock || true
  exit "$status"
}
`

/** Rollback: the same switch, pointed at an earlier release; hooks run with DEPLOY_MODE=rollback. */
export function rollbackScript(plan: ReleasePlan): string {
  return assemble('rollback', plan, [checkLayoutExists, takeLockStep, pickRollbackTarget, rollbackBeforeActivate, switchBack, rollbackAfterActivate], ACTIVATE_EXIT)
}

/** Prints what is on the server; changes nothing and takes no lock. */
export function listScript(plan: ReleasePlan): string {
  return assemble('list', plan, [listReleases], ACTIVATE_EXIT)
}

/** Frees a lock left behind, saying who held it and since when. */
export function unlockScript(plan: ReleasePlan): string {
  return assemble('unlock', plan, [forceUnlock], ACTIVATE_EXIT)
}

function assemble(phase: string, plan: ReleasePlan, steps: Step[], exitHandler: string): string {
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

function values(plan: ReleasePlan): string {
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
    ['REVERT_ON_FAILURE', plan.revertOnFailure ? 'true' : 'false'],
    ['HOOK_BEFORE_ACTIVATE', plan.beforeActivate],
    ['HOOK_AFTER_ACTIVATE', plan.afterActivate]
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
