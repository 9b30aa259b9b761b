#!/bin/sh
# atomic-deploy revert script: after a failure elsewhere, back to the release
# that was current before, and the new one marked bad.
#
#   revert  current -> REVERT_TO (the new release logged reverted); with no
#           earlier release the new one stays current, logged marked-bad
#
# The lock is freed.
#
# Values: DEPLOY_PATH RELEASE_ID DEPLOY_MODE LOCK_TOKEN LOCK_OWNER LOG_FIELDS REVERT_TO.
set -eu

# shellcheck source=lib/output.sh
. "$ATOMIC_DEPLOY_LIB/lib/output.sh"
# shellcheck source=lib/exit-codes.sh
. "$ATOMIC_DEPLOY_LIB/lib/exit-codes.sh"
# shellcheck source=lib/paths.sh
. "$ATOMIC_DEPLOY_LIB/lib/paths.sh"
# shellcheck source=lib/release.sh
. "$ATOMIC_DEPLOY_LIB/lib/release.sh"
# shellcheck source=lib/fs.sh
. "$ATOMIC_DEPLOY_LIB/lib/fs.sh"
# shellcheck source=lib/log.sh
. "$ATOMIC_DEPLOY_LIB/lib/log.sh"
# shellcheck source=lib/hooks.sh
. "$ATOMIC_DEPLOY_LIB/lib/hooks.sh"
# shellcheck source=lib/lock.sh
. "$ATOMIC_DEPLOY_LIB/lib/lock.sh"
# shellcheck source=lib/current.sh
. "$ATOMIC_DEPLOY_LIB/lib/current.sh"

step_revert() {
  step revert 'Switching back to the previous release'
  require_lock
  read_current
  if [ -n "$REVERT_TO" ] && [ -d "$RELEASES/$REVERT_TO" ]; then
    [ "$CURRENT_ID" = "$REVERT_TO" ] || switch_to "$REVERT_TO"
    log_event reverted "$RELEASE_ID"
    result current "$REVERT_TO"
  else
    log_event marked-bad "$RELEASE_ID"
    say "       no earlier release to switch back to; $CURRENT_ID stays current, marked bad"
    result current "$CURRENT_ID"
  fi
}

# Whatever happens, the lock is freed.
on_exit() {
  status=$?
  set +e
  trap - EXIT HUP INT TERM
  trap '' PIPE
  stop_hook
  release_lock || true
  exit "$status"
}

trap_exits
step_revert
finished revert
