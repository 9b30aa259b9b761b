# lib/release.sh: the release this run works on (a rollback may choose it later).
# Needs lib/paths.sh.
RELEASE_PATH="$RELEASES/$RELEASE_ID"

# The release root takes the workspace root's mode (RELEASE_MODE), whatever
# the server's umask made it; its folders and files have theirs from tar and
# cp. Last, once the tool writes into it no more: a read-only root would refuse
# the move into releases/ and the shared links.
# A setgid bit the root took from releases/ (a group shared with the web
# server) stays: GNU chmod keeps it for a numeric mode, BusyBox's clears it.
give_release_mode() {
  if [ -g "$RELEASE_PATH" ]; then
    chmod "$RELEASE_MODE" "$RELEASE_PATH" && chmod g+s "$RELEASE_PATH"
  else
    chmod "$RELEASE_MODE" "$RELEASE_PATH"
  fi
}
