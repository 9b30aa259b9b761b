# lib/log.sh: the releases log, .atomic-deploy/releases.log, one JSON object a
# line, appended only here. Events: prepared (the release is complete in
# releases/), deployed (it became current), rolled-back (a rollback made it
# current), failed (its deploy failed before the switch), reverted (switched
# away from after a failure), marked-bad (it failed, or was rolled back from).
# Needs lib/paths.sh. LOG_FIELDS: JSON members (no braces) of this run.
LOG="$STATE/releases.log"

# log_event EVENT ID
log_event() {
  printf '{"event":"%s","id":"%s","time":"%s",%s}\n' "$1" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$LOG_FIELDS" >>"$LOG"
}

# The log keeps the entries of releases still on disk and the newest 500 lines.
trim_log() {
  [ -f "$LOG" ] || return 0
  total=$(wc -l <"$LOG")
  [ "$total" -gt 1000 ] || return 0
  on_disk=" "
  for dir in "$RELEASES"/*; do on_disk="$on_disk${dir##*/} "; done
  awk -v keep="$on_disk" -v total="$total" '
    { id = "" }
    match($0, /"id":"[^"]*"/) { id = substr($0, RSTART + 6, RLENGTH - 7) }
    index(keep, " " id " ") || NR > total - 500
  ' "$LOG" >"$LOG.tmp" && mv "$LOG.tmp" "$LOG"
}
