# lib/revision.sh: the revision file, for a web page or the app to read.
# Needs lib/output.sh, lib/release.sh.
#
# REVISION_FILE (relative to the release) holds two lines: the release id,
# then the commit sha ('' when unknown). Written before the release's mode is
# set, so that a read-only release root still gets it.

write_revision_file() {
  [ -n "$REVISION_FILE" ] || return 0
  revision_path="$RELEASE_PATH/$REVISION_FILE"
  if [ -e "$revision_path" ] || [ -L "$revision_path" ]; then
    fail upload "the release already has $REVISION_FILE, where the revision file goes; set revision-file to another name (or false)"
  fi
  { mkdir -p "$(dirname "$revision_path")" && printf '%s\n%s\n' "$RELEASE_ID" "$REVISION_SHA" >"$revision_path"; } ||
    fail upload "the revision file $revision_path could not be written"
}
