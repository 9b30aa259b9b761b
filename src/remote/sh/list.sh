#!/bin/sh
# atomic-deploy list script: what is on the server. Changes nothing and takes
# no lock.
#
#   list   current, the release folders, the releases log, the lock holder
#   model  the release model's answers: the rollback target and, for a
#          would-be release NEW_RELEASE_ID, what its deploy would prune
#
# Values: DEPLOY_PATH RELEASE_ID DEPLOY_MODE LOCK_TOKEN LOCK_OWNER LOG_FIELDS
# KEEP NEW_RELEASE_ID ('' for no would-prune).
set -eu

# shellcheck source=lib/output.sh
. "$ATOMIC_DEPLOY_LIB/lib/output.sh"
# shellcheck source=lib/exit-codes.sh
. "$ATOMIC_DEPLOY_LIB/lib/exit-codes.sh"
# shellcheck source=lib/paths.sh
. "$ATOMIC_DEPLOY_LIB/lib/paths.sh"
# shellcheck source=lib/log.sh
. "$ATOMIC_DEPLOY_LIB/lib/log.sh"
# shellcheck source=lib/lock.sh
. "$ATOMIC_DEPLOY_LIB/lib/lock.sh"
# shellcheck source=lib/current.sh
. "$ATOMIC_DEPLOY_LIB/lib/current.sh"
# shellcheck source=lib/releases.sh
. "$ATOMIC_DEPLOY_LIB/lib/releases.sh"
# shellcheck source=lib/listing.sh
. "$ATOMIC_DEPLOY_LIB/lib/listing.sh"

step_list() {
  step list 'Reading releases and the releases log'
  report_releases
  if [ -d "$LOCK" ]; then result lock "$(lock_holder)"; fi
}

step_model() {
  step model 'Ranking the releases: the rollback target, and what a deploy would prune'
  result rollback-target "$(rollback_target "$CURRENT_ID")"
  [ -n "$NEW_RELEASE_ID" ] || return 0
  would=
  for id in $(releases_to_prune "$NEW_RELEASE_ID" "$KEEP"); do would="$would${would:+ }$id"; done
  result would-prune "$would"
}

# Reads only: nothing to undo.
on_exit() {
  status=$?
  trap - EXIT HUP INT TERM
  exit "$status"
}

trap_exits
step_list
step_model
finished list
