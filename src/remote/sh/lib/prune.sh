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
  if [ -d "$trash" ]; then remove_tree "$trash"; fi
  mkdir -p "$trash"
  pruned=
  for id in $(releases_to_prune "$CURRENT_ID" "$KEEP"); do
    if ! move_folder "${RELEASES:?}/$id" "$trash/$id"; then
      say "       warning: could not move releases/$id out to remove it"
    elif remove_tree "$trash/$id"; then
      pruned="$pruned $id"
    else
      pruned="$pruned $id"
      say "       warning: releases/$id is out of releases/, but parts of it could not be removed from $trash"
    fi
  done
  rmdir "$trash" 2>/dev/null || true
  say "       kept: $(kept_releases "$CURRENT_ID" "$KEEP")"
  say "       removed:${pruned:- none}"
  result pruned "${pruned# }"
  trim_log
}
