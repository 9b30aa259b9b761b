# lib/cache.sh: the upload, and the upload cache for incremental uploads.
# The server keeps the last uploaded tree in .atomic-deploy/cache (never
# served), its manifest, and a stamp made when the cache was complete. Before
# use, the cache is checked: the manifest must be the one the runner diffed
# against, no file may have changed after the stamp (see cache_changed), and
# the number of entries must match. Anything else means a full upload.
# Needs lib/output.sh, lib/paths.sh, lib/exit-codes.sh, lib/fs.sh.
STAGING="$STATE/staging/$RELEASE_ID"
CACHE="$STATE/cache"
MANIFEST="$STATE/cache.manifest"
CACHE_STAMP="$STATE/cache.stamp"
# Present while the cache's files may also be files of releases (hardlink-releases).
CACHE_LINKED="$STATE/cache.linked"
CONTROL="$STATE/staging/$RELEASE_ID.control"
DELTA="$STATE/staging/$RELEASE_ID.delta"

# From stdin: GNU sha256sum escapes a file name holding a backslash or a
# newline by putting a backslash before the digest; stdin is named "-".
sha256_of() { sha256sum <"$1" | cut -d' ' -f1; }

# Says why the cache cannot be used, or nothing when it can.
cache_problem() {
  if [ ! -d "$CACHE" ] || [ ! -f "$MANIFEST" ] || [ ! -f "$CACHE_STAMP" ]; then
    printf 'there is no complete cache'
  elif [ "$(sha256_of "$MANIFEST")" != "$CACHE_BASE" ]; then
    printf 'the cache changed after its manifest was read'
  elif changed=$(cache_changed) && [ -n "$changed" ]; then
    printf '%s' "$changed"
  else
    entries=$(find "$CACHE" | wc -l)
    lines=$(wc -l <"$MANIFEST")
    [ $((entries - 1)) -eq "$lines" ] || printf 'the cache holds %s entries, its manifest %s' $((entries - 1)) "$lines"
  fi
}

# Says whether files in the cache changed after its stamp. The change time
# (ctime), not the modification time: a write can put the mtime back (touch
# -r, cp -p), never the ctime. Compared with the stamp's own ctime, which the
# last touch of update_cache set. A cache hard-linked into releases is checked
# by mtime only: linking a file into a release, replacing it with a shared
# link or pruning a release changes the ctime of the cache's file too.
cache_changed() {
  if [ -e "$CACHE_LINKED" ]; then
    newer=$(find "$CACHE" -newer "$CACHE_STAMP" | head -n 1)
  elif find "$CACHE_STAMP" -prune -newercc "$CACHE_STAMP" >/dev/null 2>&1; then
    # GNU find: to the nanosecond.
    newer=$(find "$CACHE" -newercc "$CACHE_STAMP" | head -n 1)
  elif since=$(stat -c %Z "$CACHE_STAMP" 2>/dev/null); then
    # BusyBox find has no -newercc; its stat counts whole seconds.
    newer=$(find "$CACHE" -exec stat -c %Z {} + | awk -v since="$since" '$1 > since { print; exit }')
  else
    printf 'the server can read change times neither with find -newercc nor with stat -c %%Z'
    return 0
  fi
  [ -z "$newer" ] || printf 'files in the cache were changed after it was made'
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
  remove_tree "$2" && mkdir "$2" && cp -a "$1/." "$2/"
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

# build_from_cache: STAGING becomes the cached tree with this upload's changes.
# Like every function below, it says itself when a step fails (the caller
# tests it, so set -e is off in here).
build_from_cache() {
  copy_tree "$CACHE" "$STAGING" "$HARDLINK_RELEASE" && apply_delta "$STAGING"
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

# The cache after this upload: the full tree, or the changes applied; then its
# manifest, patched with sort and awk, must have the digest the runner expects.
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
  else
    remove_tree "$CACHE" || return 1
    mkdir "$CACHE" || return 1
    # A copy of its own, so that nothing written into a release reaches the
    # cache; with hardlink-releases the user has accepted that risk already.
    copy_tree "$STAGING" "$CACHE" "$HARDLINK_RELEASE" || return 1
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
  touch "$CACHE_STAMP" || return 1
  # Files dated after this moment (a runner clock ahead of ours) would look
  # changed at the next check: move the stamp up to the newest of them.
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
