# lib/releases.sh: the release model. The one place that decides which
# releases a deploy keeps, which one a rollback goes to, and in what order;
# prune, rollback and list all ask it. Order comes from the releases log,
# never from folder times (tar restores them).
#
#   rank    where a release last became current: the line of its last
#           deployed or rolled-back event (0: it never became current)
#   good    deployed, and not failed, reverted or marked bad since (a later
#           rollback to it makes it good again)
#   bad     deployed, then failed, reverted or marked bad
#   never   prepared (or failed) but never switched to
#
# Only names that match the release-id pattern and are folders in releases/
# count; anything else in releases/ is not ours and is never touched.
# Needs lib/paths.sh.

# Like src/config/release-id.ts: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
is_release_id() {
  case $1 in
    [A-Za-z0-9_]*) ;;
    *) return 1 ;;
  esac
  case $1 in
    *[!A-Za-z0-9._-]*) return 1 ;;
  esac
  [ "${#1}" -le 128 ]
}

# A release the model may count: a release id that is a folder in releases/.
is_release_on_disk() {
  is_release_id "$1" && [ -d "$RELEASES/$1" ] && [ ! -L "$RELEASES/$1" ]
}

# Every release the log names, highest rank first: "rank state id" lines.
release_ranking() {
  [ -f "$LOG" ] || return 0
  awk '
    { event = ""; id = "" }
    match($0, /"event":"[^"]*"/) { event = substr($0, RSTART + 9, RLENGTH - 10) }
    match($0, /"id":"[^"]*"/) { id = substr($0, RSTART + 6, RLENGTH - 7) }
    id == "" { next }
    { named[id] = 1 }
    event == "deployed" { deployed[id] = 1; rank[id] = NR; bad[id] = 0 }
    event == "rolled-back" && (id in deployed) { rank[id] = NR; bad[id] = 0 }
    event == "failed" || event == "reverted" || event == "marked-bad" { bad[id] = 1 }
    END {
      for (id in named) {
        state = !(id in deployed) ? "never" : bad[id] ? "bad" : "good"
        print (id in rank ? rank[id] : 0), state, id
      }
    }
  ' "$LOG" | sort -k1,1nr -k3,3
}

# The state of one release: good, bad, never, or unknown (the log does not name it).
release_state() {
  state=$(release_ranking | awk -v id="$1" '$3 == id { print $2 }')
  printf '%s' "${state:-unknown}"
}

# Good releases on disk, highest rank first, one a line.
good_releases() {
  release_ranking | while read -r _rank state id; do
    if [ "$state" = good ] && is_release_on_disk "$id"; then printf '%s\n' "$id"; fi
  done
}

# rollback_target CURRENT: the highest-ranked good release other than CURRENT ('' when none).
rollback_target() {
  for id in $(good_releases); do
    if [ "$id" != "$1" ]; then
      printf '%s' "$id"
      return 0
    fi
  done
}

# kept_releases CURRENT KEEP: CURRENT and the highest-ranked good releases
# besides it, KEEP good ones in all. A bad current release stays (it is
# live) but takes no slot, so the release a rollback needs is never pushed
# out by a failed one. CURRENT may be a release the log does not know yet
# (the dry run's would-be release): it counts as good, as its deploy will.
kept_releases() {
  kept=$1
  slots=$2
  case $(release_state "$1") in
    good | unknown) slots=$((slots - 1)) ;;
  esac
  for id in $(good_releases); do
    [ "$slots" -gt 0 ] || break
    [ "$id" != "$1" ] || continue
    kept="$kept $id"
    slots=$((slots - 1))
  done
  printf '%s' "$kept"
}

# releases_to_prune CURRENT KEEP: what a deploy that made CURRENT current
# removes: every release the log names that is on disk and not kept.
# Releases never switched to, failed, reverted or bad take no kept slot.
releases_to_prune() {
  keep_list=" $(kept_releases "$1" "$2") "
  release_ranking | while read -r _rank _state id; do
    is_release_on_disk "$id" || continue
    case $keep_list in *" $id "*) continue ;; esac
    printf '%s\n' "$id"
  done | sort
}

# Release folders on disk, space-separated (for messages).
release_dirs() {
  for dir in "$RELEASES"/*; do
    if [ -d "$dir" ] && is_release_id "${dir##*/}"; then printf '%s ' "${dir##*/}"; fi
  done
  return 0
}
