import { EXIT } from './exit-codes'

/**
 * Shell functions every phase shares. Plain POSIX sh (dash, BusyBox ash,
 * bash): no `local`, no `pipefail`, no arrays. Step banners and errors go to
 * stderr; stdout carries only `@@key value` lines for the TypeScript side.
 */
export const LIBRARY = `
# ---- paths ------------------------------------------------------------------
RELEASES="$DEPLOY_PATH/releases"
SHARED="$DEPLOY_PATH/shared"
STATE="$DEPLOY_PATH/.atomic-deploy"
LOCK="$STATE/lock"
LOG="$STATE/releases.log"
CURRENT_LINK="$DEPLOY_PATH/current"
LOCK_TAKEN=0
CURRENT_ID=
# A lock whose owner's pids cannot be checked is stale after this long.
LOCK_STALE_SECONDS=7200

# ---- exit codes (one per kind of failure) -----------------------------------
# shellcheck disable=SC2034
${Object.entries(EXIT)
  .map(([name, code]) => `E_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}=${code}`)
  .join(' ')}

# ---- output -----------------------------------------------------------------
result() { printf '@@%s %s\\n' "$1" "$2"; }
say() { printf '%s\\n' "$*" >&2; }
step() { result step "$1"; printf -- '-----> %s\\n' "$2" >&2; }
fail() {
  code=$1
  shift
  printf 'error: %s\\n' "$*" >&2
  result error "$*"
  exit "$code"
}

# ---- releases log: JSON lines, written only here ----------------------------
log_event() {
  printf '{"event":"%s","id":"%s","time":"%s",%s}\\n' "$1" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$LOG_FIELDS" >>"$LOG"
}

# Good releases, newest first, as "position id": deployed, and not marked bad
# since. The position is where the deploy stands in the log, or with
# "activation" where the release last became current (a rollback to it counts).
good_releases_by_position() {
  [ -f "$LOG" ] || return 0
  awk -v order="\${1:-deploy}" '
    match($0, /"event":"[^"]*"/) { ev = substr($0, RSTART + 9, RLENGTH - 10) }
    match($0, /"id":"[^"]*"/) { id = substr($0, RSTART + 6, RLENGTH - 7) }
    ev == "deployed" { seen[id] = NR; bad[id] = 0 }
    ev == "rolled-back" { bad[id] = 0; if (order == "activation" && (id in seen)) seen[id] = NR }
    ev == "failed" || ev == "reverted" || ev == "marked-bad" { bad[id] = 1 }
    END { for (id in seen) if (!bad[id]) print seen[id], id }
  ' "$LOG" | sort -rn
}

# For pruning: the releases most recently made current come first.
good_releases() { good_releases_by_position activation | cut -d' ' -f2; }

# Where a release's deploy stands in the log (empty if the log does not know it).
deploy_position() {
  [ -f "$LOG" ] || return 0
  grep -n '"event":"deployed"' "$LOG" | grep -F "\\"id\\":\\"$1\\"" | tail -n 1 | cut -d: -f1
}

release_dirs() {
  for dir in "$RELEASES"/*; do
    [ -d "$dir" ] && is_release_id "\${dir##*/}" && printf '%s ' "\${dir##*/}"
  done
  return 0
}

# Every release id the log has ever named.
logged_releases() {
  [ -f "$LOG" ] || return 0
  sed -n 's/.*"id":"\\([^"]*\\)".*/\\1/p' "$LOG" | sort -u
}

# rm -rf that also gets through folders uploaded without write permission.
remove_tree() {
  rm -rf "$@" 2>/dev/null && return 0
  chmod -R u+w "$@" 2>/dev/null || true
  rm -rf "$@"
}

is_release_id() {
  case $1 in
    '' | .* | -* | */*) return 1 ;;
  esac
  return 0
}

# ---- lock: mkdir is atomic; the owner file carries this run's token ----------
# The owner file records this script's pid and process group, and the pid of
# the SSH connection that runs it: when both are gone, the lock is stale.
# The owner file appears a moment after the lock folder: give it that moment.
lock_holder() {
  [ -s "$LOCK/owner" ] || sleep 1
  cat "$LOCK/owner" 2>/dev/null || printf 'unknown (the lock has no owner file)'
}
own_lock() { [ -f "$LOCK/owner" ] && grep -qF "\\"token\\":\\"$LOCK_TOKEN\\"" "$LOCK/owner"; }
json_number() { printf '%s' "$1" | sed -n "s/.*\\"$2\\":\\([0-9][0-9]*\\).*/\\1/p"; }

# A process that has exited but not been reaped yet (state Z) counts as gone.
is_alive() {
  [ -n "$1" ] && [ "$1" -gt 1 ] || return 1
  if [ -d /proc/1 ]; then
    [ -d "/proc/$1" ] || return 1
    [ "$(sed -n 's/^.*) \\([A-Za-z]\\).*/\\1/p' "/proc/$1/stat" 2>/dev/null)" != Z ]
  else
    kill -0 "$1" 2>/dev/null || ps -p "$1" >/dev/null 2>&1
  fi
}

# Field N (4: parent, 5: process group) of /proc/PID/stat, after the command name.
proc_field() {
  sed -n "s/^.*) [A-Za-z]\\( [0-9-]*\\)\\{$(($2 - 3))\\}.*/\\1/p" "/proc/$1/stat" 2>/dev/null | tr -d ' '
}

# The sshd process that holds this connection (0 when it cannot be told).
connection_pid() {
  p=$$
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    case $(cat "/proc/$p/comm" 2>/dev/null) in
      sshd*) printf '%s' "$p" && return 0 ;;
    esac
    p=$(proc_field "$p" 4)
  done
  printf 0
}

# Written aside, then renamed: a reader never sees a half-written owner.
write_lock_owner() {
  printf '{"pid":%s,"pgid":%s,"sshd":%s,"epoch":%s,%s\\n' "$$" "$(proc_field $$ 5 || true)" "$(connection_pid)" \\
    "$(date +%s)" "\${LOCK_OWNER#?}" | sed 's/"pgid":,/"pgid":0,/' >"$LOCK/owner.$$"
  mv -f "$LOCK/owner.$$" "$LOCK/owner"
}

lock_is_stale() {
  owner=$(cat "$LOCK/owner" 2>/dev/null) || return 1
  pid=$(json_number "$owner" pid)
  [ -n "$pid" ] || return 1
  if is_alive "$pid"; then return 1; fi
  # A hook runs in a session of its own and may outlive a killed script.
  hook=$(cat "$LOCK/hook" 2>/dev/null || true)
  if [ -n "$hook" ] && is_alive "$hook"; then return 1; fi
  sshd=$(json_number "$owner" sshd)
  if [ "\${sshd:-0}" -gt 0 ]; then
    if is_alive "$sshd"; then return 1; fi
    return 0
  fi
  since=$(json_number "$owner" epoch)
  [ $(($(date +%s) - \${since:-0})) -gt "$LOCK_STALE_SECONDS" ]
}

# Takes over a stale lock under a second lock, so that two runs that both
# saw it stale cannot remove each other's fresh lock.
take_over_stale_lock() {
  mkdir "$LOCK.takeover" 2>/dev/null || return 0
  if lock_is_stale; then
    say "       the lock was stale (its deploy is gone); taking it over from $(lock_holder)"
    rm -rf "$LOCK"
  fi
  rmdir "$LOCK.takeover"
}

take_lock() {
  waited=0
  takeovers=0
  until mkdir "$LOCK" 2>/dev/null; do
    [ -d "$LOCK" ] || fail "$E_PATH" "cannot create the lock $LOCK as $(id -un)"
    if [ "$takeovers" -lt 3 ] && lock_is_stale; then
      takeovers=$((takeovers + 1))
      take_over_stale_lock
      continue
    fi
    if [ "$waited" -ge "$LOCK_TIMEOUT" ]; then
      fail "$E_LOCKED" "the deploy lock $LOCK is held by $(lock_holder)"
    fi
    [ "$waited" -gt 0 ] || say "waiting up to $LOCK_TIMEOUT s for the deploy lock held by $(lock_holder)"
    sleep 1
    waited=$((waited + 1))
  done
  LOCK_TAKEN=1
  write_lock_owner
}

# The post step of a cancelled job: stop what is left of that run on the server.
stop_lock_holder_processes() {
  group=$(json_number "$(lock_holder)" pgid)
  [ -n "$group" ] && [ "$group" -gt 1 ] && is_alive "$group" || return 0
  # Never our own group (over SSH every session has its own; by hand it may not).
  [ "$group" != "$(proc_field $$ 5)" ] || return 0
  say "       stopping the unfinished deploy's processes (group $group)"
  hook=$(cat "$LOCK/hook" 2>/dev/null || true)
  kill -s TERM -- "-$group" 2>/dev/null || true
  [ -z "$hook" ] || stop_group "$hook"
  sleep 1
  kill -s KILL -- "-$group" 2>/dev/null || true
}

require_lock() {
  own_lock || fail "$E_LOCK_LOST" "this run no longer holds the deploy lock; it is held by $(lock_holder)"
  LOCK_TAKEN=1
  write_lock_owner
}

release_lock() {
  if [ "$LOCK_TAKEN" = 1 ] && own_lock; then rm -rf "$LOCK"; fi
  LOCK_TAKEN=0
}

# ---- current: a relative symlink, only ever replaced by rename(2) -------------
read_current() {
  CURRENT_ID=
  if [ -L "$CURRENT_LINK" ]; then
    CURRENT_ID=$(readlink "$CURRENT_LINK")
    CURRENT_ID=\${CURRENT_ID%/}
    CURRENT_ID=\${CURRENT_ID##*/}
  elif [ -e "$CURRENT_LINK" ]; then
    fail "$E_CURRENT_NOT_LINK" "$CURRENT_LINK is a real folder or file, not a symlink; nothing was changed"
  fi
}

# The release current before this run, kept and reported as PREVIOUS_RELEASE_ID.
read_previous() {
  read_current
  PREVIOUS_RELEASE_ID=$CURRENT_ID
  result previous "$PREVIOUS_RELEASE_ID"
}

# A new link is made in .atomic-deploy/switch and renamed over current: one
# rename(2), no moment without a current. mv -T where it exists (GNU, BusyBox), else the
# portable form that moves the link into the deploy folder.
switch_to() {
  target="releases/$1"
  [ -d "$DEPLOY_PATH/$target" ] || fail "$E_SWITCH" "cannot switch to $target: no such release folder"
  read_current
  rm -rf "$STATE/switch"
  mkdir "$STATE/switch"
  ln -s "$target" "$STATE/switch/current"
  if ! mv -T "$STATE/switch/current" "$CURRENT_LINK" 2>/dev/null; then
    mv "$STATE/switch/current" "$DEPLOY_PATH/" || fail "$E_SWITCH" "could not rename the new link over $CURRENT_LINK"
  fi
  rmdir "$STATE/switch"
  now=$(readlink "$CURRENT_LINK" || true)
  [ "$now" = "$target" ] || fail "$E_SWITCH" "after the switch current points to '$now', expected '$target'"
  say "       current -> $target"
}

# ---- hooks: the user's commands, with set -e, in the release ----------------
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
  hook_setsid=
  if command -v setsid >/dev/null 2>&1; then hook_setsid=setsid; fi
  (
    cd "$hook_dir" || exit 1
    export RELEASE_ID RELEASE_PATH DEPLOY_PATH PREVIOUS_RELEASE_ID DEPLOY_MODE
    if [ -n "$hook_setsid" ]; then exec setsid sh -ec "$hook_text"; fi
    exec sh -ec "$hook_text"
  ) </dev/null 1>&2 &
  HOOK_GROUP=$!
  if [ -d "$LOCK" ]; then printf '%s\\n' "$HOOK_GROUP" >"$LOCK/hook" 2>/dev/null || true; fi
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
  rm -f "$LOCK/hook" 2>/dev/null || true
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
`
