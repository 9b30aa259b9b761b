#!/bin/sh
# atomic-deploy recover script: after the connection to this host was lost
# (or a script was killed) mid-deploy, a new connection learns where the host
# really is, so the runner can finish, switch back or undo as the rules say.
#
#   recover  stop what is left of this run's earlier script (its process
#            group, and a hook in its own session), then report the real
#            current, whether this run's switch was logged, and the lock:
#            `held` (this run's, kept for the next phase, re-taken when the
#            lost script had freed it), or `other` (another run holds it)
#
# The lock stays taken for the phase the runner sends next.
#
# Values: DEPLOY_PATH RELEASE_ID DEPLOY_MODE LOCK_TOKEN LOCK_OWNER LOG_FIELDS.
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

step_recover() {
  step recover 'Reconnected: checking where this host is'
  # Stopped first: on its way out the lost script may free the lock (finish, revert and abort do).
  if own_lock; then stop_lock_holder_processes; fi
  if own_lock; then
    HOLDING_LOCK=1
    write_lock_owner || fail path "could not rewrite the owner file of the deploy lock in $LOCK (is the server's disk full?)"
    result lock held
  elif mkdir "$LOCK" 2>/dev/null; then
    # The lost script freed the lock on its way out; this run takes it again for its next phase.
    HOLDING_LOCK=1
    write_lock_owner || {
      rm -rf "$LOCK"
      fail path "could not write the owner file of the deploy lock in $LOCK (is the server's disk full?)"
    }
    result lock held
  else
    result lock other
  fi
  read_current
  if [ -f "$LOG" ] && grep -qF "{\"event\":\"deployed\",\"id\":\"$RELEASE_ID\"," "$LOG"; then result switched "$RELEASE_ID"; fi
  result current "$CURRENT_ID"
}

# The lock stays taken for the next phase; a failure before it was re-taken frees nothing else.
on_exit() {
  status=$?
  trap - EXIT HUP INT TERM
  exit "$status"
}

trap_exits
step_recover
finished recover
