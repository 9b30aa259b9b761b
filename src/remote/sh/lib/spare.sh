# lib/spare.sh: a spare copy of the upload cache, made in the background
# after a deploy, so that the next incremental deploy moves it into place
# instead of copying the cache while the runner waits. The spare is a copy
# of its own (no file shared with the cache or a release), made while the
# deploy lock is free; any run that takes the lock stops it first (lib/lock.sh),
# so no cache change ever overlaps a copy. Before use it must be a copy of
# the cache the runner diffed against, unchanged since it was made, and each
# file of the cache that changed after the stamp the cache had when the copy
# began (SPARE_BASE: later runs move the stamp, even runs that fail) must
# match the manifest in the spare too: a write into a release file that the
# cache shares, undone later, may have been copied in while it lasted.
# Anything else: the spare is removed and the cache copied as before.
# Needs lib/output.sh, lib/paths.sh, lib/fs.sh, lib/cache.sh, lib/lock.sh.
SPARE="$STATE/spare"
# This run's copy in the making, and what a stopped one leaves to remove:
# named by the lock token, so that a copy that kept running after a run
# gave up waiting for it never touches a newer copy's files.
SPARE_NEW="$STATE/spare.new.$LOCK_TOKEN"
SPARE_TRASH="$STATE/spare.trash.$LOCK_TOKEN"
# The digest of the manifest the spare was copied against; its mtime, when the copy was complete.
SPARE_MADE="$STATE/spare.made"
# Its mtime: the cache's stamp when the copy began.
SPARE_BASE="$STATE/spare.base"

# start_spare_copy: at the end of a deploy, under the lock, with SPARE_COPY=1.
start_spare_copy() {
  [ "$SPARE_COPY" = 1 ] && [ "$HOLDING_LOCK" = 1 ] || return 0
  [ ! -e "$CACHE_LINKED" ] && [ -f "$CACHE_STAMP" ] && [ -f "$CACHE_TIMES" ] && [ -f "$MANIFEST" ] || return 0
  mkdir "$SPARE_LOCK" 2>/dev/null || return 0
  printf '%s\n' "$LOCK_TOKEN" >"$SPARE_LOCK/for"
  (make_spare) </dev/null >"$STATE/spare.log" 2>&1 &
  printf '%s\n' "$!" >"$SPARE_LOCK/pid"
  say "       making a spare copy of the upload cache in the background, for the next deploy"
}

# make_spare: runs in the background. Each step that changes a shared name
# (spare, spare.base, spare.made) comes after spare_stop_asked says no: a
# run that took the lock, or gave up waiting for this copy, owns them now.
make_spare() {
  set +e
  trap '' HUP PIPE
  SPARE_STOPPED=0
  spare_stop_asked || remove_spare
  digest=$(sha256_of "$MANIFEST")
  if room_for_spare && ! spare_stop_asked && touch -r "$CACHE_STAMP" "$SPARE_NEW.base" && mkdir "$SPARE_NEW" &&
    copy_cache_to_spare && ! spare_stop_asked && [ ! -e "$SPARE" ] && mv "$SPARE_NEW.base" "$SPARE_BASE" && mv "$SPARE_NEW" "$SPARE"; then
    { printf '%s\n' "$digest" >"$SPARE_MADE" && wait_past "$SPARE_MADE"; } || remove_spare
    ! own_spare_lock || rm -rf "$SPARE_LOCK"
  else
    # Out of the way first, so that a run waiting for the lock goes on at once.
    [ ! -e "$SPARE_NEW" ] || mv "$SPARE_NEW" "$SPARE_TRASH" 2>/dev/null || remove_tree "$SPARE_NEW"
    rm -f "$SPARE_NEW.base"
    ! own_spare_lock || rm -rf "$SPARE_LOCK"
    remove_tree "$SPARE_TRASH"
  fi
}

# room_for_spare: after the copy the disk would still have as much free as
# the cache takes (room for the next upload): a spare never fills the disk
# the app writes to. df -P -k and du -k are POSIX (BusyBox has both).
room_for_spare() {
  size=$(du -sk "$CACHE" | awk '{ print $1 }')
  # From the end of the line: a device name may hold spaces.
  free=$(df -P -k "$STATE" | awk 'NR == 2 { print $(NF - 2) }')
  is_count "$size" && is_count "$free" && [ "$free" -ge $((2 * size)) ] && return 0
  say "not enough free space for a spare copy (${free:-?} KiB free, the cache takes ${size:-?} KiB): the next deploy copies the cache"
  return 1
}

is_count() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }

# copy_cache_to_spare: SPARE_NEW becomes a copy of the cache, without
# extended attributes where cp can leave them out (as copy_tree).
copy_cache_to_spare() {
  copy_unless_stopped --no-preserve=xattr 2>/dev/null && return 0
  [ "$SPARE_STOPPED" != 1 ] && remove_tree "$SPARE_NEW" && mkdir "$SPARE_NEW" && copy_unless_stopped
}

# copy_unless_stopped CP-OPTION...: cp -a of the cache into SPARE_NEW, killed
# (SPARE_STOPPED=1) as soon as a run that takes the lock asks.
copy_unless_stopped() {
  cp -a "$@" "$CACHE/." "$SPARE_NEW/" &
  copier=$!
  while is_alive "$copier"; do
    if spare_stop_asked; then
      kill "$copier" 2>/dev/null
      wait "$copier"
      SPARE_STOPPED=1
      return 1
    fi
    short_pause
  done
  wait "$copier"
}

# A run that took the deploy lock asked, or took the spare's lock away (it
# gave up waiting, and a later finish may hold it now).
spare_stop_asked() { [ -e "$SPARE_STOP" ] || ! own_spare_lock; }
own_spare_lock() { [ "$(cat "$SPARE_LOCK/for" 2>/dev/null)" = "$LOCK_TOKEN" ]; }

# take_spare: in prepare, after verify_cache and the unpacked delta: moves
# the spare into STAGING when it may stand for a copy of the cache; else
# says why and fails (the caller removes it).
take_spare() {
  [ -d "$SPARE" ] && [ -f "$SPARE_MADE" ] && [ -f "$SPARE_BASE" ] || return 1
  if [ "$(cat "$SPARE_MADE")" != "$CACHE_BASE" ]; then
    say "       the spare copy is of another cache; copying the cache"
  elif [ -n "$(changed_since "$SPARE_MADE" "$SPARE" | head -n 1)" ] || [ -n "$(find "$SPARE_BASE" -newer "$SPARE_MADE")" ]; then
    say "       the spare copy changed after it was made; copying the cache"
  elif ! changed_since_spare_base >"$VERIFIED.spare" || ! matches_manifest "$VERIFIED.spare" "$SPARE"; then
    say "       the spare copy holds a file that changed in the cache while it was copied; copying the cache"
  else
    rm -f "$SPARE_MADE" "$SPARE_BASE" && rmdir "$STAGING" && move_folder "$SPARE" "$STAGING" || return 1
    say "       using the spare copy of the cache made after the last deploy"
    return 0
  fi
  return 1
}

# changed_since_spare_base: the files of the cache changed since SPARE_BASE,
# or more. The list verify_cache made will do when the stamp it began from is
# no later than SPARE_BASE (a spare made after the last deploy, and no run
# moved the stamp since): it then holds every file changed since SPARE_BASE up
# to the check, and what changed after the check cannot be in a spare that was
# complete before the lock was taken. Else the cache is walked again.
changed_since_spare_base() {
  if [ -f "$VERIFIED.list" ] && from=$(file_time %y "$VERIFIED.from" 2>/dev/null) && base=$(file_time %y "$SPARE_BASE") &&
    [ -n "$from" ] && [ -n "$base" ] && LC_ALL=C expr "$base" \>= "$from" >/dev/null; then
    cat "$VERIFIED.list"
  else
    changed_since "$SPARE_BASE"
  fi
}

# remove_spare: the spare, and what any copy left in the making or stopped.
remove_spare() { rm -f "$SPARE_MADE" "$SPARE_BASE" && remove_tree "$SPARE" "$STATE"/spare.new.* "$STATE"/spare.trash.*; }
