# lib/listing.sh: the release list the runner shows: current, the release
# folders, the releases log.
# Needs lib/output.sh, lib/exit-codes.sh, lib/paths.sh, lib/log.sh,
# lib/current.sh, lib/releases.sh.

report_releases() {
  read_current
  result current "$CURRENT_ID"
  for id in $(release_dirs); do result release "$id"; done
  if [ -f "$LOG" ]; then
    while IFS= read -r line; do result log "$line"; done <"$LOG"
  fi
}

# The release list at the end of a phase that changed it (when
# LIST_RELEASES is 1), so that no list script has to follow: one round trip
# less. It never fails the phase: a list cut short has no @@listed line, and
# the runner then sends the list script as before.
report_releases_at_end() {
  [ "$LIST_RELEASES" = 1 ] || return 0
  set +e
  (
    set -e
    report_releases
  )
  listed=$?
  set -e
  [ "$listed" != 0 ] || result listed 1
}
