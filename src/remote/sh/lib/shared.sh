# lib/shared.sh: paths that persist across releases, linked from shared/.
# SHARED_ENTRIES is data: one entry a line, relative to the release, a
# trailing / for a folder (e.g. "storage/" and "config/.env"). SHARED_AUTO=1
# also links whatever else is in shared/ (DeployHQ's mode).
# Needs lib/output.sh, lib/paths.sh, lib/exit-codes.sh, lib/fs.sh.
SHARED="$DEPLOY_PATH/shared"

# Links every entry of SHARED_ENTRIES, then (with SHARED_AUTO=1) all of shared/.
link_shared_paths() {
  linked=0
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    case $line in
      */) link_shared "${line%/}" dir ;;
      *) link_shared "$line" file ;;
    esac
    linked=1
  done <<ENTRIES
$SHARED_ENTRIES
ENTRIES
  if [ "$SHARED_AUTO" = 1 ]; then
    link_shared_tree ''
    linked=1
  fi
  [ "$linked" = 1 ] || say '       no shared paths'
}

# link_shared PATH dir|file: make releases/<id>/PATH a link to shared/PATH.
# Seeds shared/PATH from the release on first use, never overwrites it.
link_shared() {
  entry=$1
  kind=$2
  case /$entry/ in
    //* | */../* | */./*) fail shared "shared entry '$entry' must be a path inside the release, without '.' or '..'" ;;
  esac
  link_target=$(shared_link_target "$entry")
  in_release="$RELEASE_PATH/$entry"
  in_shared="$SHARED/$entry"
  check_real_parents "$RELEASE_PATH" "$entry"
  if [ ! -e "$in_shared" ] && [ ! -L "$in_shared" ]; then
    make_dirs "$(dirname "$in_shared")"
    if [ -e "$in_release" ] || [ -L "$in_release" ]; then
      if [ "$kind" = dir ] && [ ! -d "$in_release" ]; then
        fail shared "$entry is listed as a folder ('$entry/') but is a file in the release"
      fi
      if [ "$kind" = file ] && [ -d "$in_release" ]; then
        fail shared "$entry is a folder in the release; list it with a trailing slash ('$entry/')"
      fi
      say "       shared/$entry: seeded from this release (first deploy with it)"
      move_folder "$in_release" "$in_shared"
      own_copies "$in_shared" 2>/dev/null ||
        say "       shared/$entry: some of its files still share their data with the upload cache (they could not be copied); the next deploy may upload everything"
    elif [ "$kind" = dir ]; then
      say "       shared/$entry: created empty"
      make_dirs "$in_shared"
    else
      fail shared "shared file $entry is missing: create $in_shared on the server (for example your .env), or include it in the upload once"
    fi
  fi
  if [ "$kind" = dir ] && [ ! -d "$in_shared" ]; then
    fail shared "shared/$entry is not a folder, but the shared input lists it as one ('$entry/')"
  fi
  if [ "$kind" = file ] && [ -d "$in_shared" ]; then
    fail shared "shared/$entry is a folder; list it with a trailing slash ('$entry/')"
  fi
  remove_tree "$in_release"
  make_dirs "$(dirname "$in_release")"
  ln -s "$link_target" "$in_release"
  say "       $entry -> $link_target"
}

# shared-auto: links every entry of shared/DIR (DIR is '' or ends in /) into
# the release with the same structure. Where the release has a folder of the
# same name, it descends instead, so the release keeps its own files there.
link_shared_tree() {
  for item in "$SHARED/$1"* "$SHARED/$1".[!.]* "$SHARED/$1"..?*; do
    [ -e "$item" ] || [ -L "$item" ] || continue
    rel=${item#"$SHARED/"}
    in_release="$RELEASE_PATH/$rel"
    [ ! -L "$in_release" ] || continue
    if [ -d "$in_release" ] && [ -d "$item" ] && [ ! -L "$item" ]; then
      link_shared_tree "$rel/"
      continue
    fi
    check_real_parents "$RELEASE_PATH" "$rel"
    remove_tree "$in_release"
    make_dirs "$(dirname "$in_release")"
    ln -s "$(shared_link_target "$rel")" "$in_release"
    say "       $rel -> shared/$rel"
  done
}

# The relative link target for shared/REL, seen from the folder of releases/<id>/REL.
shared_link_target() {
  up=../..
  rest=$1
  while [ "${rest#*/}" != "$rest" ]; do
    up="$up/.."
    rest=${rest#*/}
  done
  printf '%s/shared/%s' "$up" "$1"
}

# Refuses a shared entry whose parent folders in the release are symlinks:
# removing the release's copy must never reach outside the release.
check_real_parents() {
  if parent=$(symlinked_parent "$1" "$2"); then
    fail shared "cannot link shared path $2: $parent is a symlink in the release"
  fi
}
