# lib/prune.sh: removing old releases, as the release model (lib/releases.sh)
# decides: current and the keep-1 highest-ranked good releases stay.
# Needs lib/output.sh, lib/paths.sh, lib/current.sh, lib/releases.sh,
# lib/log.sh, lib/fs.sh. KEEP: good releases to keep, current included.

prune_releases() {
  read_current
  pruned=
  for id in $(releases_to_prune "$CURRENT_ID" "$KEEP"); do
    if remove_tree "${RELEASES:?}/$id"; then
      pruned="$pruned $id"
    else
      say "       warning: could not remove releases/$id"
    fi
  done
  say "       kept: $(kept_releases "$CURRENT_ID" "$KEEP")"
  say "       removed:${pruned:- none}"
  result pruned "${pruned# }"
  trim_log
}
