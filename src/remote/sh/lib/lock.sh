# lib/lock.sh: one deploy at a time. mkdir is atomic; the owner file carries
# this run's token, so only the run holding the lock may continue or free it.
# Needs lib/output.sh, lib/paths.sh, lib/exit-codes.sh (and lib/hooks.sh for
# stop_lock_holder_processes, lib/fs.sh for take_lock).
HOLDING_LOCK=0
LOCK="$STATE/lock"
# A lock whose owner's pids cannot be checked is stale after this long.
LOCK_STALE_SECONDS=7200
# A lock with no owner (its run could not write the file: a full disk) is
# stale after this long: a run writes its owner file within a second.
LOCK_OWNERLESS_STALE_SECONDS=300
# Held by the background copy that makes a spare of the upload cache
# (lib/spare.sh); a run that takes the deploy lock stops it (stop_spare_copy).
SPARE_LOCK="$STATE/spare.lock"
SPARE_STOP="$SPARE_LOCK/stop"

# The owner file records this script's pid and process group, and the pid of
# the SSH connection that runs it: when both are gone, the lock is stale.
# The owner file appears a moment after the lock folder: give it that moment.
lock_holder() {
  [ -s "$LOCK/owner" ] || sleep 1
  cat "$LOCK/owner" 2>/dev/null || printf 'unknown (the lock has no owner file)'
}
own_lock() { [ -f "$LOCK/owner" ] && grep -qF "\"token\":\"$LOCK_TOKEN\"" "$LOCK/owner"; }
json_number() { printf '%s' "$1" | sed -n "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p"; }

# A process that has exited but not been reaped yet (state Z) counts as gone.
is_alive() {
  [ -n "$1" ] && [ "$1" -gt 1 ] || return 1
  if [ -d /proc/1 ]; then
    [ -d "/proc/$1" ] || return 1
    [ "$(sed -n 's/^.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)" != Z ]
  else
    kill -0 "$1" 2>/dev/null || ps -p "$1" >/dev/null 2>&1
  fi
}

# Field N (4: parent, 5: process group) of /proc/PID/stat, after the command name.
proc_field() {
  sed -n "s/^.*) [A-Za-z]\( [0-9-]*\)\{$(($2 - 3))\}.*/\1/p" "/proc/$1/stat" 2>/dev/null | tr -d ' '
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

# Written aside, read back, then renamed: a reader never sees a half-written
# owner, and a write the disk could not take (BusyBox sed still exits 0) is
# caught. Fails, leaving the owner file as it was, when it could not be written.
write_lock_owner() {
  owner_line=$(printf '{"pid":%s,"pgid":%s,"sshd":%s,"epoch":%s,%s' "$$" "$(proc_field $$ 5 || true)" "$(connection_pid)" \
    "$(date +%s)" "${LOCK_OWNER#?}" | sed 's/"pgid":,/"pgid":0,/')
  if printf '%s\n' "$owner_line" >"$LOCK/owner.$$" &&
    [ "$(cat "$LOCK/owner.$$" 2>/dev/null)" = "$owner_line" ] &&
    mv -f "$LOCK/owner.$$" "$LOCK/owner"; then
    return 0
  fi
  rm -f "$LOCK/owner.$$"
  return 1
}

lock_owner_pid() { json_number "$(cat "$LOCK/owner" 2>/dev/null || true)" pid; }

# A lock folder whose owner file is missing or names no pid (written empty),
# older than LOCK_OWNERLESS_STALE_SECONDS (by its mtime: its last entry made).
lock_is_old_and_ownerless() {
  [ -z "$(lock_owner_pid)" ] || return 1
  made=$(date -r "$LOCK" +%s 2>/dev/null) || return 1
  [ $(($(date +%s) - made)) -gt "$LOCK_OWNERLESS_STALE_SECONDS" ]
}

lock_is_stale() {
  if lock_is_old_and_ownerless; then return 0; fi
  owner=$(cat "$LOCK/owner" 2>/dev/null) || return 1
  pid=$(json_number "$owner" pid)
  [ -n "$pid" ] || return 1
  if is_alive "$pid"; then return 1; fi
  # A hook runs in a session of its own and may outlive a killed script.
  hook=$(cat "$LOCK/hook" 2>/dev/null || true)
  if [ -n "$hook" ] && is_alive "$hook"; then return 1; fi
  sshd=$(json_number "$owner" sshd)
  if [ "${sshd:-0}" -gt 0 ]; then
    if is_alive "$sshd"; then return 1; fi
    return 0
  fi
  since=$(json_number "$owner" epoch)
  [ $(($(date +%s) - ${since:-0})) -gt "$LOCK_STALE_SECONDS" ]
}

# Takes over a stale lock under a second lock, so that two runs that both
# saw it stale cannot remove each other's fresh lock.
take_over_stale_lock() {
  mkdir "$LOCK.takeover" 2>/dev/null || return 0
  if lock_is_old_and_ownerless; then
    say "       the lock has had no owner file for over $((LOCK_OWNERLESS_STALE_SECONDS / 60)) minutes (its run could not write one: a full disk?); taking it over"
    rm -rf "$LOCK"
  elif lock_is_stale; then
    say "       the lock was stale (its deploy is gone); taking it over from $(lock_holder)"
    rm -rf "$LOCK"
  fi
  rmdir "$LOCK.takeover"
}

take_lock() {
  waited=0
  takeovers=0
  until mkdir "$LOCK" 2>/dev/null; do
    [ -d "$LOCK" ] || fail path "cannot create the lock $LOCK as $(id -un)"
    if [ "$takeovers" -lt 3 ] && lock_is_stale; then
      takeovers=$((takeovers + 1))
      take_over_stale_lock
      continue
    fi
    if [ "$waited" -ge "$LOCK_TIMEOUT" ]; then
      fail locked "the deploy lock $LOCK is held by $(lock_holder)"
    fi
    [ "$waited" -gt 0 ] || say "waiting up to $LOCK_TIMEOUT s for the deploy lock held by $(lock_holder)"
    sleep 1
    waited=$((waited + 1))
  done
  if ! write_lock_owner; then
    rm -rf "$LOCK"
    fail path "could not write the owner file of the deploy lock in $LOCK (is the server's disk full?); the lock was removed again and nothing was changed: free some space, then deploy again"
  fi
  HOLDING_LOCK=1
  stop_spare_copy
}

# stop_spare_copy: under the deploy lock, the copy that makes a spare of the
# cache is asked to stop (a file, not a signal: its pid may have been reused
# by now), and waited for up to 10 s (by the clock: sleep may take whole
# seconds only); a copy that died leaves its lock behind. A copy still
# running after that stops once it sees its lock gone.
stop_spare_copy() {
  [ -d "$SPARE_LOCK" ] || return 0
  : >"$SPARE_STOP" 2>/dev/null || true
  copier=$(cat "$SPARE_LOCK/pid" 2>/dev/null || true)
  give_up=$(($(date +%s) + 10))
  while [ -d "$SPARE_LOCK" ] && [ "$(date +%s)" -lt "$give_up" ] && is_alive "${copier:-0}"; do
    short_pause
  done
  rm -rf "$SPARE_LOCK"
}

# The post step of a cancelled job, or a reconnect: stop what is left of that
# run on the server. Its script's group may be gone (killed) while its hook,
# in a session of its own, lives on: each is stopped on its own. A group
# counts as alive while any process of it is (its leader may have exited).
stop_lock_holder_processes() {
  group=$(json_number "$(lock_holder)" pgid)
  hook=$(cat "$LOCK/hook" 2>/dev/null || true)
  # Never our own group (over SSH every session has its own; by hand it may not).
  if [ -z "$group" ] || [ "$group" -le 1 ] || [ "$group" = "$(proc_field $$ 5)" ] || ! kill -0 "-$group" 2>/dev/null; then group=; fi
  if [ -z "$hook" ] || ! is_alive "$hook"; then hook=; fi
  [ -n "$group$hook" ] || return 0
  say "       stopping the unfinished deploy's processes (${group:+group $group}${group:+${hook:+, }}${hook:+hook $hook})"
  [ -z "$group" ] || kill -s TERM -- "-$group" 2>/dev/null || true
  [ -z "$hook" ] || stop_group "$hook"
  [ -z "$group" ] || {
    sleep 1
    kill -s KILL -- "-$group" 2>/dev/null || true
  }
}

require_lock() {
  own_lock || fail lock-lost "this run no longer holds the deploy lock; it is held by $(lock_holder)"
  HOLDING_LOCK=1
  write_lock_owner || fail path "could not rewrite the owner file of the deploy lock in $LOCK (is the server's disk full?); the lock still names this run"
}

release_lock() {
  if [ "$HOLDING_LOCK" = 1 ] && own_lock; then rm -rf "$LOCK"; fi
  HOLDING_LOCK=0
}
