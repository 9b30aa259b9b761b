# lib/fs.sh: removing trees.

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
