# lib/release.sh: the release this run works on (a rollback may choose it later).
# Needs lib/paths.sh.
RELEASE_PATH="$RELEASES/$RELEASE_ID"
