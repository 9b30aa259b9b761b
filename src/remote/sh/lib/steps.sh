# lib/steps.sh: the steps more than one phase runs.
# Needs every library file of a deploy phase.

step_require_lock() {
  step lock 'Checking the deploy lock'
  require_lock
}

step_resume() {
  step resume 'Checking the lock and the prepared release'
  require_lock
  read_previous
  [ -d "$RELEASE_PATH" ] || fail switch "the prepared release $RELEASE_PATH is missing"
}

step_switch() {
  step switch 'Switching current to the new release'
  switch_to "$RELEASE_ID"
  result switched "$RELEASE_ID"
  log_event deployed "$RELEASE_ID"
  result current "$RELEASE_ID"
}

step_prune() {
  step prune 'Removing old releases'
  prune_releases || say "       warning: pruning did not finish; the deploy itself succeeded"
}
