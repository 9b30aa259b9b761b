#!/bin/sh
# atomic-deploy health script: proves the release that is current works.
#
#   health  every health-url answers an accepted status with health-expect in
#           its body, and health-command exits 0 in the release; tried every
#           HEALTH_INTERVAL seconds until it passes or HEALTH_TIMEOUT is up
#
# Changes nothing on the server (a deploy's lock stays as it was). When the
# time is up, the last try of each failing check is reported (@@probe).
#
# Values: DEPLOY_PATH RELEASE_ID DEPLOY_MODE LOCK_TOKEN LOCK_OWNER LOG_FIELDS
# HEALTH_URLS HEALTH_EXPECT HEALTH_STATUS HEALTH_TIMEOUT HEALTH_INTERVAL
# HEALTH_COMMAND.
set -eu

# shellcheck source=lib/output.sh
. "$ATOMIC_DEPLOY_LIB/lib/output.sh"
# shellcheck source=lib/exit-codes.sh
. "$ATOMIC_DEPLOY_LIB/lib/exit-codes.sh"
# shellcheck source=lib/paths.sh
. "$ATOMIC_DEPLOY_LIB/lib/paths.sh"
# shellcheck source=lib/release.sh
. "$ATOMIC_DEPLOY_LIB/lib/release.sh"
# shellcheck source=lib/hooks.sh
. "$ATOMIC_DEPLOY_LIB/lib/hooks.sh"
# shellcheck source=lib/health.sh
. "$ATOMIC_DEPLOY_LIB/lib/health.sh"

step_health() {
  step health "Checking the health of $RELEASE_ID"
  if [ -n "$HEALTH_URLS" ]; then require_http_client; fi
  mkdir -p "$PROBE_DIR"
  started=$(date +%s)
  HEALTH_DEADLINE=$((started + HEALTH_TIMEOUT))
  tries=0
  while :; do
    tries=$((tries + 1))
    if check_once; then
      say "       healthy after $tries tries"
      result healthy "$tries"
      return 0
    fi
    [ "$(($(date +%s) + HEALTH_INTERVAL))" -le "$HEALTH_DEADLINE" ] || break
    sleep "$HEALTH_INTERVAL"
  done
  while IFS= read -r note; do
    say "       $note"
    result probe "$note"
  done <"$PROBE_DIR/notes"
  fail unhealthy "$RELEASE_ID is unhealthy: still failing after $tries tries in health-timeout ($HEALTH_TIMEOUT s)"
}

on_exit() {
  status=$?
  set +e
  trap - EXIT HUP INT TERM
  stop_hook
  remove_probe_dir
  exit "$status"
}

trap_exits
step_health
finished health
