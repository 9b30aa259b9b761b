#!/bin/sh
# atomic-deploy prepare script: builds the new release beside the live one.
#
#   writable check   setfacl and writable-user are there (when writable is set)
#   layout           check the deploy folder (create it on a first deploy)
#   lock             take the deploy lock; it stays taken for the switch
#   check            current is a symlink and the release id is new (and, with
#                    health-url, the server has an HTTP client)
#   upload           receive the upload (or the changes) into a staging folder
#                    (the changes go into the spare copy of the cache when
#                    it is sound, see lib/spare.sh, else into a copy of it)
#   release          move the complete upload into releases/<id>
#   shared           link shared paths into the release
#   writable         open the writable folders to writable-user (when set)
#   env-file         write env-file into the release, mode 600 (when set)
#   revision         write the revision file into the release (when set)
#                    (then a new upload cache is stamped: see lib/cache.sh)
#   before-activate  run the before-activate hook in the release (when set)
#
# On failure the staging tree and the release are removed, the release is
# logged failed and the lock is freed: current is never touched.
#
# Values: DEPLOY_PATH RELEASE_ID DEPLOY_MODE LOCK_TOKEN LOCK_OWNER LOG_FIELDS
# LOCK_TIMEOUT COMPRESSION EXPECTED_ENTRIES INCREMENTAL CACHE_BASE NEXT_DIGEST
# HARDLINK_RELEASE CONTROL_NAME RELEASE_MODE SHARED_ENTRIES SHARED_AUTO
# ENV_FILE_PATH ENV_FILE_TEXT WRITABLE_PATHS WRITABLE_MODE WRITABLE_USER HOOK_BEFORE_ACTIVATE
# COMMAND_TIMEOUT REVISION_FILE REVISION_SHA NEEDS_HTTP_CLIENT. The upload comes on stdin.
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
# shellcheck source=lib/cache.sh
. "$ATOMIC_DEPLOY_LIB/lib/cache.sh"
# shellcheck source=lib/spare.sh
. "$ATOMIC_DEPLOY_LIB/lib/spare.sh"
# shellcheck source=lib/shared.sh
. "$ATOMIC_DEPLOY_LIB/lib/shared.sh"
# shellcheck source=lib/env-file.sh
. "$ATOMIC_DEPLOY_LIB/lib/env-file.sh"
# shellcheck source=lib/writable.sh
. "$ATOMIC_DEPLOY_LIB/lib/writable.sh"
# shellcheck source=lib/health.sh
. "$ATOMIC_DEPLOY_LIB/lib/health.sh"
# shellcheck source=lib/revision.sh
. "$ATOMIC_DEPLOY_LIB/lib/revision.sh"

# What this run has built, for on_exit to remove should it fail.
STAGING_CREATED=0
RELEASE_CREATED=0
# What the release was built from on an incremental upload: cache, or its spare copy.
BUILT_FROM=

step_layout() {
  step layout 'Checking the deploy folder'
  if [ -e "$DEPLOY_PATH" ] && [ ! -d "$DEPLOY_PATH" ]; then
    fail path "$DEPLOY_PATH exists and is not a folder"
  fi
  make_dirs "$DEPLOY_PATH" "$RELEASES" "$SHARED" "$STATE" 2>/dev/null ||
    fail path "cannot create $DEPLOY_PATH and its folders as user $(id -un); create it and give this user write access"
  for dir in "$DEPLOY_PATH" "$RELEASES" "$STATE"; do
    [ -w "$dir" ] || fail path "user $(id -un) cannot write to $DEPLOY_PATH (or its releases/ and .atomic-deploy/ folders)"
  done
}

step_lock() {
  step lock 'Taking the deploy lock'
  take_lock
}

step_check() {
  step check 'Checking current and the new release id'
  read_previous
  if [ -e "$RELEASE_PATH" ] || [ -L "$RELEASE_PATH" ]; then
    fail release-exists "release $RELEASE_ID already exists in $RELEASES"
  fi
  # We hold the lock, so any staging tree left here is from a run that died.
  if [ -d "$STATE/staging" ]; then
    for leftover in "$STATE/staging"/* "$STATE/staging"/.[!.]*; do
      [ -e "$leftover" ] || [ -L "$leftover" ] || continue
      say "       removing a staging tree left by an earlier run: $leftover"
      remove_tree "$leftover"
    done
  fi
  mkdir -p "$STATE/staging"
}

step_upload() {
  step upload 'Receiving the upload into a staging folder'
  case $COMPRESSION in
    gzip) command -v gzip >/dev/null 2>&1 || fail missing-tool "gzip is not installed on the server" ;;
    zstd) command -v zstd >/dev/null 2>&1 || fail missing-tool "zstd is not installed on the server" ;;
  esac
  STAGING_CREATED=1
  mkdir "$STAGING"
  if [ -n "$CACHE_BASE" ]; then
    problem=$(cache_problem)
    [ -n "$problem" ] || problem=$(verify_cache)
    [ -z "$problem" ] || fail cache "the upload cache cannot be used: $problem"
    mkdir "$DELTA"
    unpack_into "$DELTA"
    check_listed
    say "       changes received; building the release from the cache"
    BUILT_FROM=cache
    if [ "$HARDLINK_RELEASE" != 1 ] && take_spare; then BUILT_FROM=spare; else remove_spare; fi
    # Whatever goes wrong with the cache from here on, the runner sends everything instead.
    build_from_cache "$BUILT_FROM" 2>"$CONTROL/errors" || fail cache "the release could not be built from the upload cache: $(cache_errors)"
    # A release built from the spare read nothing of the cache: what changes there now is after its stamp, checked next time.
    [ "$BUILT_FROM" = spare ] || unchanged_since_verified || fail cache "a file of the upload cache changed while the release was copied from it"
  else
    # A spare copy is of the cache this upload replaces (or of none: incremental is off).
    remove_spare
    unpack_into "$STAGING"
  fi
  found=$(entry_count "$STAGING")
  if [ "$found" -ne "$EXPECTED_ENTRIES" ]; then
    [ -z "$CACHE_BASE" ] || fail cache "the release built from the upload cache has $found entries, the workspace $EXPECTED_ENTRIES"
    fail upload "the upload is incomplete: expected $EXPECTED_ENTRIES entries, found $found"
  fi
  say "       $found entries in the release"
  if [ "$INCREMENTAL" = 1 ] && ! update_cache "$BUILT_FROM" 2>"$CONTROL/errors"; then
    problem=$(cache_errors)
    # After a delta, the release may hold what the cache wrongly claimed: start over in full.
    [ -z "$CACHE_BASE" ] || fail cache "the upload cache could not be updated: $problem"
    say "       warning: the upload cache could not be updated ($problem); the next deploy uploads everything"
  fi
  remove_tree "$DELTA" "$CONTROL" "$VERIFIED"*
}

step_release() {
  step release 'Moving the complete upload into releases/'
  RELEASE_CREATED=1
  mv "$STAGING" "$RELEASE_PATH"
  STAGING_CREATED=0
  # Logged now, so that a release whose deploy died before the switch is known and pruned.
  log_event prepared "$RELEASE_ID"
  say "       $RELEASE_PATH"
}

step_shared() {
  step shared 'Linking shared paths into the release'
  link_shared_paths
}

step_env_file() {
  step env-file "Writing env-file to $ENV_FILE_PATH in the release"
  write_env_file
}

step_writable() {
  step writable "Opening the writable folders to ${WRITABLE_USER:-every user}"
  open_writable_paths
}

step_before_activate() {
  step before-activate 'Running before-activate in the new release'
  if ! run_hook before-activate "$RELEASE_PATH" "$HOOK_BEFORE_ACTIVATE"; then
    fail before-activate "before-activate failed (exit status $hook_status)"
  fi
}

# A failed prepare removes what it built and frees the lock; a successful one
# keeps the lock for the switch.
on_exit() {
  status=$?
  set +e
  trap - EXIT HUP INT TERM
  trap '' PIPE
  stop_hook
  if [ "$status" != 0 ] && [ "$HOLDING_LOCK" = 1 ]; then
    [ "$STAGING_CREATED" != 1 ] || remove_tree "$STAGING" "$STAGING.failed" "$DELTA" "$CONTROL" "$VERIFIED"*
    if [ "$RELEASE_CREATED" = 1 ]; then
      read_current 2>/dev/null || true
      [ "$CURRENT_ID" = "$RELEASE_ID" ] || remove_tree "$RELEASE_PATH"
    fi
    # Only a release this run began is failed (not another run's id, refused
    # here); a cache miss is not a failure: the runner starts over in full.
    if [ "$status" != "$(exit_code cache)" ] && { [ "$STAGING_CREATED" = 1 ] || [ "$RELEASE_CREATED" = 1 ]; }; then
      log_event failed "$RELEASE_ID" || true
    fi
    release_lock || true
    say "       nothing was switched: current still points to ${PREVIOUS_RELEASE_ID:-nothing}"
  fi
  exit "$status"
}

trap_exits
check_writable
step_layout
step_lock
step_check
if [ "$NEEDS_HTTP_CLIENT" = 1 ]; then require_http_client; fi
step_upload
step_release
step_shared
# Writable first: its modes and ACLs must not reach the env file in a writable folder.
if [ -n "$WRITABLE_PATHS" ]; then step_writable; fi
if [ -n "$ENV_FILE_PATH" ]; then step_env_file; fi
write_revision_file
give_release_mode
stamp_new_cache
if [ -n "$HOOK_BEFORE_ACTIVATE" ]; then step_before_activate; fi
finished prepare
