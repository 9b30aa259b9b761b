# lib/hooks.sh: the user's commands, with set -e, in the release.
# Needs lib/output.sh, lib/paths.sh, lib/lock.sh (a hook runs with the lock held).
#
# A hook may hold secrets (export DB_PASSWORD=...), and argv is world-readable
# in ps: the hook runs from a file only this user may read, in the lock
# folder, that printf (a builtin in dash, bash and BusyBox sh) writes; never
# from `sh -c "$hook_text"`. The lock folder goes with the lock.

# A hook runs in a session of its own (setsid, where the server has it), so
# that a timeout, or the post step of a cancelled job, can stop it and every
# process it started. HOOK_GROUP names that session while it runs.
HOOK_GROUP=
WATCHDOG=

run_hook() {
  hook_name=$1
  hook_dir=$2
  hook_text=$3
  hook_status=0
  hook_file="$LOCK/hook-script"
  if ! (umask 077 && printf '%s\n' "$hook_text" >"$hook_file"); then
    say "$hook_name could not be written to $hook_file (is the server's disk full?)"
    hook_status=1
    return 1
  fi
  hook_setsid=
  if command -v setsid >/dev/null 2>&1; then hook_setsid=setsid; fi
  (
    cd "$hook_dir" || exit 1
    export RELEASE_ID RELEASE_PATH DEPLOY_PATH PREVIOUS_RELEASE_ID DEPLOY_MODE
    if [ -n "$hook_setsid" ]; then exec setsid sh -e "$hook_file"; fi
    exec sh -e "$hook_file"
  ) </dev/null 1>&2 &
  HOOK_GROUP=$!
  if [ -d "$LOCK" ]; then printf '%s\n' "$HOOK_GROUP" >"$LOCK/hook" 2>/dev/null || true; fi
  WATCHDOG=
  rm -f "$STATE/timed-out.$$"
  if [ "$COMMAND_TIMEOUT" -gt 0 ]; then
    (
      sleep "$COMMAND_TIMEOUT"
      : >"$STATE/timed-out.$$"
      stop_group "$HOOK_GROUP"
    ) </dev/null >/dev/null 2>&1 &
    WATCHDOG=$!
  fi
  wait "$HOOK_GROUP" || hook_status=$?
  [ -z "$WATCHDOG" ] || kill "$WATCHDOG" 2>/dev/null || true
  WATCHDOG=
  HOOK_GROUP=
  rm -f "$LOCK/hook" "$hook_file" 2>/dev/null || true
  if [ -e "$STATE/timed-out.$$" ]; then
    rm -f "$STATE/timed-out.$$"
    say "$hook_name ran longer than command-timeout ($COMMAND_TIMEOUT s); it and its processes were stopped"
    hook_status=124
  elif [ "$hook_status" != 0 ]; then
    say "$hook_name exited with status $hook_status"
  fi
  return "$hook_status"
}

# On exit: no hook, and no hook watchdog, outlives the script.
stop_hook() {
  [ -z "$WATCHDOG" ] || kill "$WATCHDOG" 2>/dev/null || true
  [ -z "$HOOK_GROUP" ] || stop_group "$HOOK_GROUP"
}

# Stops a hook's process group (or, without setsid, the hook's shell): TERM, then KILL.
stop_group() {
  [ -n "$1" ] && [ "$1" -gt 1 ] || return 0
  kill -s TERM -- "-$1" 2>/dev/null || kill -s TERM "$1" 2>/dev/null || true
  sleep 2
  kill -s KILL -- "-$1" 2>/dev/null || kill -s KILL "$1" 2>/dev/null || true
}
