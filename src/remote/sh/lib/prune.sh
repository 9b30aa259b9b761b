# lib/prune.sh: removing old releases, as the release model (lib/releases.sh)
# decides: current and the keep-1 highest-ranked good releases stay.
# Needs lib/output.sh, lib/paths.sh, lib/current.sh, lib/releases.sh,
# lib/log.sh, lib/fs.sh. KEEP: good releases to keep, current included.

# A release leaves releases/ by one rename into the trash before it is
# deleted, so a prune that is killed half-way never leaves a partial tree
# where the model (or a rollback) would take it for a release. What a killed
# prune left in the trash goes at the next one.
prune_releases() {
  read_current
  trash="$STATE/trash"
  if [ -d "$trash" ] && ! problem=$(remove_tree "$trash" 2>&1); then
    report_leftovers "$trash" 'what earlier prunes left in the trash' "$problem"
  fi
  mkdir -p "$trash"
  pruned=
  for id in $(releases_to_prune "$CURRENT_ID" "$KEEP"); do
    if ! move_folder "${RELEASES:?}/$id" "$trash/$id"; then
      say "       warning: could not move releases/$id out to remove it"
    elif problem=$(remove_tree "$trash/$id" 2>&1); then
      pruned="$pruned $id"
    else
      pruned="$pruned $id"
      report_leftovers "$trash/$id" "releases/$id (out of releases/, moved to $trash/$id)" "$problem"
    fi
  done
  rmdir "$trash" 2>/dev/null || true
  say "       kept: $(kept_releases "$CURRENT_ID" "$KEEP")"
  say "       removed:${pruned:- none}"
  result pruned "${pruned# }"
  trim_log
}

# report_leftovers DIR WHAT RM-ERRORS: what could not be removed, and why:
# rm's own words, and the entries in DIR another user owns (typically made by
# writable-user in a folder it created, which the deploy user may not write
# to). They stay in the trash; each prune tries them again.
report_leftovers() {
  say "       warning: parts of $2 could not be removed:"
  printf '%s\n' "$3" | head -n 10 | while IFS= read -r line; do say "         $line"; done
  me=$(id -u)
  find "$1" ! -user "$me" -prune -exec ls -ld {} + 2>/dev/null | head -n 10 | while IFS= read -r line; do
    say "         owned by another user: $line"
  done
  say "       remove them as their owner or as root. With writable-mode acl the SSH user can remove what writable-user creates, but folders writable-user made without group write (mkdir -m 755) deny the SSH user through the ACL mask: let it make them with group write (umask 002, mode 0775 or 0777)"
}
