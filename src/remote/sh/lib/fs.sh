# lib/fs.sh: making and removing folders.

# make_dirs DIR...: mkdir -p, with every folder it creates readable and
# traversable by all, whatever the server's umask: the web server's user must
# get through the deploy folder, releases/ and shared/ to reach current/. Only
# the umask's write bits stay (002 still gives group-writable folders).
# Folders already there keep their mode.
make_dirs() { (umask "$(printf '%o' $((0$(umask) & 022)))" && mkdir -p "$@"); }

# move_folder FROM TO: mv, also for a read-only folder going into another
# folder (its '..' entry changes, which needs write permission on it); the
# folder gets its mode back after the move.
move_folder() {
  if [ -d "$1" ] && [ ! -L "$1" ] && [ ! -w "$1" ]; then
    chmod u+w "$1" && mv "$1" "$2" && chmod u-w "$2"
  else
    mv "$1" "$2"
  fi
}

# rm -rf that also gets through folders without write permission (uploaded
# read-only, as node_modules caches and build outputs are, at any depth).
# Only real folders inside the trees given are made writable: find follows no
# symlink, not even one given here (chmod -R would follow that one, GNU's all
# the way down), and a symlink given is removed itself, never its target. The
# folder holding a tree is left as it is.
remove_tree() {
  rm -rf "$@" 2>/dev/null && return 0
  for tree in "$@"; do
    [ -L "$tree" ] || [ ! -d "$tree" ] ||
      find "$tree" -type d ! -perm -700 -exec chmod u+rwx {} + 2>/dev/null || true
  done
  rm -rf "$@"
}

# entry_count DIR: how many entries find lists below DIR (DIR itself not counted).
entry_count() {
  lines=$(find "$1" | wc -l) || return 1
  echo $((lines - 1))
}

# short_pause: a twentieth of a second, or a whole one where sleep takes no fraction.
short_pause() { sleep 0.05 2>/dev/null || sleep 1; }

# symlinked_parent ROOT REL: prints the first folder on the way from ROOT to
# ROOT/REL (REL itself not included) that is a symlink; fails when none is.
symlinked_parent() {
  parent=$1
  rest=$2
  while [ "${rest#*/}" != "$rest" ]; do
    parent="$parent/${rest%%/*}"
    rest=${rest#*/}
    if [ -L "$parent" ]; then
      printf '%s\n' "$parent"
      return 0
    fi
  done
  return 1
}

# own_copies PATH: each file at or below PATH with other hard links (a full
# upload's cache shares the new release's files; hardlink-releases shares
# them with the other releases too) becomes a copy of its own, so that what
# is changed there (modes and ACLs, what the web server writes) reaches
# nothing else. Only the SSH user's files: what another user made is theirs.
own_copies() {
  find "$1" -type f -links +1 -user "$(id -un)" -exec sh -c '
    for file do
      cp -p "$file" "$file.atomic-deploy-copy" && mv -f "$file.atomic-deploy-copy" "$file" || exit 1
    done
  ' sh {} +
}
