# lib/cache.sh: the upload, and the upload cache for incremental uploads.
# The server keeps the last uploaded tree in .atomic-deploy/cache (never
# served), its manifest, and a stamp made when the cache was complete. A full
# upload is written once: the cache is a hard-linked copy of the new release,
# taken before anything is written into the release, and stamped before any
# command of the user runs there. What an app or a hook changes in place in a
# release file changes the cache's file too, and its change time (ctime):
# before use, every file of the cache whose ctime is after the stamp must
# still have the content, mode and size its manifest line gives, and the
# owner, group and mtime recorded at the stamp (see verify_cache). The
# manifest must be the one the runner diffed against, and the release built
# from the cache must have as many entries as the workspace. Anything else
# means a full upload.
# Needs lib/output.sh, lib/paths.sh, lib/exit-codes.sh, lib/fs.sh.
STAGING="$STATE/staging/$RELEASE_ID"
CACHE="$STATE/cache"
MANIFEST="$STATE/cache.manifest"
CACHE_STAMP="$STATE/cache.stamp"
# Present while the cache's files may also be files of releases (hardlink-releases).
CACHE_LINKED="$STATE/cache.linked"
# Owner, group and mtime of each file of the cache as stamped ("uid gid
# mtime ./path"): the manifest has none of them, and a release that shares a
# file with the cache can change them (chgrp, touch).
CACHE_TIMES="$STATE/cache.times"
CONTROL="$STATE/staging/$RELEASE_ID.control"
DELTA="$STATE/staging/$RELEASE_ID.delta"
# Made when this run's check of the cache began; the cache's stamp moves to it.
# Beside it: .from (the stamp the check began from) and .list (what it found changed).
VERIFIED="$STATE/staging/$RELEASE_ID.verified"
# Set when this run made a new cache that stamp_new_cache must stamp.
CACHE_UNSTAMPED=0

# From stdin: GNU sha256sum escapes a file name holding a backslash or a
# newline by putting a backslash before the digest; stdin is named "-".
sha256_of() { sha256sum <"$1" | cut -d' ' -f1; }

# Says why the cache cannot be used, or nothing when it may be: the checks
# that change nothing (inspect runs them without the lock). verify_cache
# follows in prepare, and the release built from the cache must have as
# many entries as the workspace (a cache with one too many or too few
# entries gives a release with one too many or too few).
cache_problem() {
  if [ ! -d "$CACHE" ] || [ ! -f "$MANIFEST" ] || [ ! -f "$CACHE_STAMP" ] || { [ ! -e "$CACHE_LINKED" ] && [ ! -f "$CACHE_TIMES" ]; }; then
    printf 'there is no complete cache'
  elif [ "$(sha256_of "$MANIFEST")" != "$CACHE_BASE" ]; then
    printf 'the cache changed after its manifest was read'
  fi
}

# Says whether files in the cache changed after its stamp, or nothing when
# none did; under the lock. By change time (ctime), not modification time: a
# write can put the mtime back (touch -r, cp -p), never the ctime. Removing
# the release the cache shares its files with, or a file of it, changes their
# ctime too, so a file changed after the stamp is compared with the manifest
# and the record of the stamp (matches_manifest) before it counts as changed. The stamp then moves up to the start of this
# check (VERIFIED): what changes from here on is after it. A cache that
# hardlink-releases shares with every release is checked by mtime only:
# linking a file into a new release changes its ctime.
verify_cache() {
  if [ -e "$CACHE_LINKED" ]; then
    [ -z "$(find "$CACHE" -newer "$CACHE_STAMP" | head -n 1)" ] || printf 'files in the cache were changed after it was made'
    return 0
  fi
  read_change_times
  if [ "$CHANGE_TIMES" = none ]; then
    printf 'the server can read change times neither with find -newercm nor with stat -c %%z'
  elif ! { touch -r "$CACHE_STAMP" "$VERIFIED.from" && touch "$VERIFIED" && wait_past "$VERIFIED" && changed_since "$CACHE_STAMP" >"$VERIFIED.list"; }; then
    printf 'the change times of the cache could not be read'
  elif ! matches_manifest "$VERIFIED.list"; then
    printf 'files in the cache were changed after it was made'
  elif ! touch -r "$VERIFIED" "$CACHE_STAMP"; then
    printf 'the cache stamp could not be moved'
  fi
}

# Nothing in the cache changed since verify_cache began (an app writing into
# the release the cache shares its files with, while the new release was
# copied from it). Fails when something did. Not needed for a release built
# from the spare copy, which reads nothing of the cache. A release
# hard-linked from the cache (hardlink-releases) changed the ctime of every
# file it links.
unchanged_since_verified() {
  [ -e "$VERIFIED" ] && [ "$HARDLINK_RELEASE" != 1 ] || return 0
  changed_since "$VERIFIED" >"$VERIFIED.list" && [ ! -s "$VERIFIED.list" ]
}

# CHANGE_TIMES: how this server reads change times: find (GNU: -newercm)
# or stat (BusyBox: stat -c %z), both to the nanosecond, or none. Set once.
CHANGE_TIMES=
read_change_times() {
  [ -z "$CHANGE_TIMES" ] || return 0
  if find "$STATE" -prune -newercm "$STATE" >/dev/null 2>&1; then
    CHANGE_TIMES="find"
  elif file_time %z "$STATE" >/dev/null 2>&1; then
    CHANGE_TIMES="stat"
  else
    CHANGE_TIMES="none"
  fi
}

# changed_since REF [DIR]: the regular files of the cache (or DIR), ./path
# one a line, whose ctime is after the mtime of REF.
changed_since() {
  read_change_times
  case $CHANGE_TIMES in
    find)
      (cd "${2:-$CACHE}" && find . -type f -newercm "$1")
      ;;
    stat)
      since=$(file_time %y "$1") || return 1
      (cd "${2:-$CACHE}" && TZ=UTC0 find . -type f -exec stat -c '%z|%n' {} +) |
        SINCE="$since" LC_ALL=C awk '{ t = substr($0, 1, index($0, "|") - 1) } t > ENVIRON["SINCE"] { print substr($0, length(t) + 2) }'
      ;;
    *) return 1 ;;
  esac
}

# wait_past FILE: returns once a file made now has a later ctime than FILE's
# mtime. File times advance in clock ticks (a few milliseconds): a change in
# the tick of a stamp would not be after it, and so must come before the
# check that follows the stamp.
wait_past() {
  tries=0
  while [ "$tries" -lt 200 ]; do
    touch "$1.tick" || return 1
    if is_after "$1.tick" "$1"; then
      rm -f "$1.tick"
      return 0
    fi
    # A coarse clock: no need to ask a thousand times a second.
    [ "$tries" -lt 20 ] || short_pause
    tries=$((tries + 1))
  done
  rm -f "$1.tick"
  return 1
}

# is_after FILE REF: FILE's ctime is after REF's mtime.
is_after() {
  read_change_times
  case $CHANGE_TIMES in
    find) [ -n "$(find "$1" -newercm "$2")" ] ;;
    *) LC_ALL=C expr "$(file_time %z "$1")" \> "$(file_time %y "$2")" >/dev/null ;;
  esac
}

# file_time FORMAT FILE: a time of FILE as stat -c prints it (%z: ctime, %y:
# mtime) in UTC, "2026-01-02 03:04:05.123456789 +0000", so that two such
# times compare as strings, to the nanosecond (%Z and %Y are whole seconds).
file_time() { TZ=UTC0 stat -c "$@"; }

# matches_manifest LIST [DIR]: each file named in LIST (./path in the cache,
# or in DIR, one a line) has the sha256, mode and size its line in the
# manifest gives, the owner, group and mtime CACHE_TIMES gives, and no
# access control list.
matches_manifest() {
  [ -s "$1" ] || return 0
  tree=${2:-$CACHE}
  tr '\n' '\0' <"$1" | (cd "$tree" && xargs -0 sha256sum) >"$1.sums" || return 1
  tr '\n' '\0' <"$1" | (cd "$tree" && xargs -0 stat -c '%a %s %u %g %Y') >"$1.modes" || return 1
  acl_free "$1" "$tree" || return 1
  sed 's/^\\//' "$1.sums" | cut -c1-64 | paste -d ' ' - "$1.modes" "$1" |
    KNOWN="$MANIFEST" TIMES="$CACHE_TIMES" awk '
      BEGIN {
        known = ENVIRON["KNOWN"]; while ((getline line < known) > 0) listed[line] = 1
        times = ENVIRON["TIMES"]
        while ((getline line < times) > 0) {
          p = line; for (i = 0; i < 3; i++) sub(/^[^ ]* /, "", p)
          split(line, f, " "); stamped[p] = f[1] " " f[2] " " f[3]
        }
      }
      {
        p = $0; for (i = 0; i < 6; i++) sub(/^[^ ]* /, "", p)
        if (!(($1 " f " $2 " " $3 " " substr(p, 3)) in listed) || stamped[p] != ($4 " " $5 " " $6)) { bad = 1; exit }
      }
      END { exit bad }
    '
}

# acl_free LIST DIR: no file of DIR named in LIST has an access control list, which
# cp -a would copy into the release (GNU ls marks one with a '+'). BusyBox
# ls has no -U, and BusyBox cp copies no ACL.
acl_free() {
  ls -ldU "$STATE" >/dev/null 2>&1 || return 0
  tr '\n' '\0' <"$1" | (cd "$2" && xargs -0 ls -ldU) | awk '$1 ~ /[+]$/ { found = 1 } END { exit found }'
}

# record_times: CACHE_TIMES for every file of the cache, as it is now.
record_times() {
  (cd "$CACHE" && find . -type f -exec stat -c '%u %g %Y %n' {} +) >"$CACHE_TIMES.new" && mv "$CACHE_TIMES.new" "$CACHE_TIMES"
}

# update_times: CACHE_TIMES after a delta: the lines of the paths it dropped
# go, and the files it brought (new in the cache, shared with nothing) come in.
update_times() {
  {
    DROP_LIST="$CONTROL/drop" awk '
      BEGIN { drop = ENVIRON["DROP_LIST"]; while ((getline line < drop) > 0) gone["./" line] = 1 }
      { p = $0; for (i = 0; i < 3; i++) sub(/^[^ ]* /, "", p); if (!(p in gone)) print }
    ' "$CACHE_TIMES" &&
      (cd "$DELTA" && find . -type f) | tr '\n' '\0' | (cd "$CACHE" && xargs -0 -r stat -c '%u %g %Y %n')
  } >"$CACHE_TIMES.new" && mv "$CACHE_TIMES.new" "$CACHE_TIMES"
}

# stamp_new_cache: the stamp of a cache this run made from a full upload,
# after the steps that replace files of the release (shared links, writable
# copies, env-file) and before any command of the user runs in it.
stamp_new_cache() {
  [ "$CACHE_UNSTAMPED" = 1 ] || return 0
  # Nothing can change the cache between the stamp and the record: no command
  # of the user has run in the release yet, and it is not current.
  if touch "$CACHE_STAMP" && wait_past "$CACHE_STAMP" && record_times; then
    CACHE_UNSTAMPED=0
  else
    # A stamp in the tick of a write to come would hide that write: none at all.
    rm -f "$CACHE_STAMP"
    say "       warning: the upload cache could not be stamped; the next deploy uploads everything"
  fi
}

# unpack_into DIR: the upload stream into DIR; its control data is set aside in CONTROL.
unpack_into() {
  rm -f "$STAGING.failed"
  # cd, not tar -C: GNU tar reads backslash escapes in the -C argument.
  # After the end of the archive, cat drains what the sender still writes
  # (padding, or members after a marker), so that no tar, runner or
  # server side, sees a broken pipe for a stream that arrived whole.
  # umask 0: BusyBox tar applies the umask to the archive's modes (it has no
  # -p). No folder takes a mode from it: the archive holds every folder (the
  # listing names each one, a delta every parent of what it sends).
  { decompress || : >"$STAGING.failed"; } | (cd "$1" && umask 0 && tar -xpof - && cat >/dev/null) ||
    fail upload "unpacking the upload failed (see the tar message above)"
  if [ -e "$STAGING.failed" ]; then
    rm -f "$STAGING.failed"
    fail upload "the upload could not be decompressed ($COMPRESSION)"
  fi
  if [ -d "$1/$CONTROL_NAME" ]; then
    rm -rf "$CONTROL"
    mv "$1/$CONTROL_NAME" "$CONTROL"
  elif [ "$INCREMENTAL" = 1 ]; then
    fail upload "the upload has no control data"
  fi
}

# copy_tree FROM TO hardlink: TO becomes a copy of FROM (hard links when asked and possible).
copy_tree() {
  if [ "$3" = 1 ] && cp -al "$1/." "$2/" 2>/dev/null; then return 0; fi
  remove_tree "$2" && mkdir "$2" || return 1
  # Without extended attributes where cp can leave them out (GNU; BusyBox cp
  # copies none): an upload carries none, and a file the cache shares with a
  # release may have been given some there.
  cp -a --no-preserve=xattr "$1/." "$2/" 2>/dev/null || { remove_tree "$2" && mkdir "$2" && cp -a "$1/." "$2/"; }
}

# check_listed: refuses a remove list naming a path outside the tree.
check_listed() {
  [ -s "$CONTROL/remove" ] || return 0
  while IFS= read -r rel; do
    case "/$rel/" in
      */../* | */./* | //) fail upload "the upload names a path outside the release: $rel" ;;
    esac
  done <"$CONTROL/remove"
}

# build_from_cache [spare]: STAGING becomes the cached tree with this
# upload's changes; "spare": STAGING already is the spare copy of the cache
# (lib/spare.sh). Like every function below, it says itself when a step
# fails (the caller tests it, so set -e is off in here).
build_from_cache() {
  if [ "$1" != spare ]; then copy_tree "$CACHE" "$STAGING" "$HARDLINK_RELEASE" || return 1; fi
  apply_delta "$STAGING"
}

# apply_delta DIR: the paths in CONTROL/remove go from DIR, then the delta is
# copied in. Folders may be read-only (555, as module caches and build outputs
# are): each one written into is opened (u+w) for the while; then cp -a gives
# the folders of the delta their modes, and close_folders closes the others
# again (parents of removed paths only). The list goes into CONTROL, so that
# it is removed with it.
apply_delta() {
  {
    listed_parents
    (cd "$DELTA" && find . -type d)
  } | open_folders "$1" >"$CONTROL/opened" &&
    remove_listed "$1" &&
    cp -a "$DELTA/." "$1/" &&
    close_folders "$1" <"$CONTROL/opened"
}

# The folders holding the paths in CONTROL/remove (below the top), one a line.
listed_parents() {
  [ -s "$CONTROL/remove" ] || return 0
  while IFS= read -r rel; do
    case $rel in */*) printf '%s\n' "${rel%/*}" ;; esac
  done <"$CONTROL/remove"
}

# open_folders DIR: makes writable each folder of DIR named on stdin that was
# not, and prints its name. Symlinks are left alone (chmod would follow them).
open_folders() {
  while IFS= read -r rel; do
    folder="$1/$rel"
    if [ -d "$folder" ] && [ ! -L "$folder" ] && [ ! -w "$folder" ]; then
      chmod u+w "$folder" || return 1
      printf '%s\n' "$rel"
    fi
  done
}

# close_folders DIR: makes read-only again each folder of DIR named on stdin,
# unless the delta holds it (cp -a gave it the workspace's mode).
close_folders() {
  while IFS= read -r rel; do
    if [ -d "$DELTA/$rel" ] && [ ! -L "$DELTA/$rel" ]; then continue; fi
    folder="$1/$rel"
    if [ -d "$folder" ] && [ ! -L "$folder" ]; then chmod u-w "$folder" || return 1; fi
  done
}

# remove_listed DIR: removes from DIR each path in CONTROL/remove (one a line, checked by check_listed).
remove_listed() {
  [ -s "$CONTROL/remove" ] || return 0
  while IFS= read -r rel; do
    remove_tree "${1:?}/$rel" || return 1
  done <"$CONTROL/remove"
}

# update_cache [spare]: the cache after this upload: the full tree, or the
# changes applied; then its manifest, patched with sort and awk, must have
# the digest the runner expects. "spare": the release was built from the
# spare copy, so the count of its entries said nothing of the cache's: the
# cache is counted itself.
update_cache() {
  # set -e is off in here (the caller tests the result): every step says so itself.
  rm -f "$CACHE_STAMP" || return 1
  if [ "$HARDLINK_RELEASE" = 1 ]; then
    : >"$CACHE_LINKED" || return 1
  elif [ -z "$CACHE_BASE" ]; then
    rm -f "$CACHE_LINKED" || return 1
  fi
  if [ -n "$CACHE_BASE" ]; then
    apply_delta "$CACHE" || return 1
    if [ ! -e "$CACHE_LINKED" ]; then update_times || return 1; fi
    [ "$1" != spare ] || cache_has_expected_entries || return 1
  else
    remove_tree "$CACHE" || return 1
    mkdir "$CACHE" || return 1
    # Hard links of the staging tree, written once: nothing is in it yet but
    # the upload (see stamp_new_cache and verify_cache).
    copy_tree "$STAGING" "$CACHE" 1 || return 1
  fi
  {
    if [ -n "$CACHE_BASE" ]; then
      # Through the environment: awk -v would read backslashes in the path as escapes.
      DROP_LIST="$CONTROL/drop" awk '
        BEGIN { drop = ENVIRON["DROP_LIST"]; while ((getline line < drop) > 0) gone[line] = 1 }
        { p = $0; for (i = 0; i < 4; i++) sub(/^[^ ]* /, "", p); if (!(p in gone)) print }
      ' "$MANIFEST"
    fi
    cat "$CONTROL/add"
  } | LC_ALL=C sort >"$MANIFEST.new"
  if [ "$(sha256_of "$MANIFEST.new")" != "$NEXT_DIGEST" ]; then
    rm -f "$MANIFEST.new"
    say "its manifest after the changes is not what the runner expects"
    return 1
  fi
  mv "$MANIFEST.new" "$MANIFEST" || return 1
  if [ -e "$CACHE_LINKED" ]; then
    stamp_linked_cache
  elif [ -n "$CACHE_BASE" ]; then
    # What changed in the cache after the check began is after the stamp:
    # the changes just applied are checked against the manifest next time.
    touch -r "$VERIFIED" "$CACHE_STAMP"
  else
    CACHE_UNSTAMPED=1
  fi
}

# cache_has_expected_entries: the cache has as many entries as the workspace.
cache_has_expected_entries() {
  entries=$(entry_count "$CACHE")
  [ "$entries" -eq "$EXPECTED_ENTRIES" ] && return 0
  say "the upload cache has $entries entries after the changes, the workspace $EXPECTED_ENTRIES"
  return 1
}

# A cache checked by mtime: stamped now, then moved up to the newest of its
# files (a runner clock ahead of ours dates them after this moment).
stamp_linked_cache() {
  touch "$CACHE_STAMP" || return 1
  while newer=$(find "$CACHE" -newer "$CACHE_STAMP" | head -n 1) && [ -n "$newer" ]; do
    touch -r "$newer" "$CACHE_STAMP" || return 1
  done
}

# The upload stream, decompressed as COMPRESSION says.
decompress() {
  case $COMPRESSION in
    gzip) gzip -dc ;;
    zstd) zstd -dc ;;
    *) cat ;;
  esac
}

# What a cache step wrote to CONTROL/errors: all of it to the log, its last line printed.
cache_errors() {
  sed 's/^/       /' "$CONTROL/errors" >&2
  if [ -s "$CONTROL/errors" ]; then tail -n 1 "$CONTROL/errors"; else printf 'no message'; fi
}
