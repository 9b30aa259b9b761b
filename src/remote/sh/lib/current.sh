# lib/current.sh: current is a relative symlink, only ever replaced by rename(2).
# Needs lib/output.sh, lib/paths.sh, lib/exit-codes.sh.
CURRENT_LINK="$DEPLOY_PATH/current"
# What this run found: current now, and current when it began.
CURRENT_ID=
PREVIOUS_RELEASE_ID=

read_current() {
  CURRENT_ID=
  if [ -L "$CURRENT_LINK" ]; then
    CURRENT_ID=$(readlink "$CURRENT_LINK")
    CURRENT_ID=${CURRENT_ID%/}
    CURRENT_ID=${CURRENT_ID##*/}
  elif [ -e "$CURRENT_LINK" ]; then
    fail current-not-link "$CURRENT_LINK is a real folder or file, not a symlink; nothing was changed"
  fi
}

# The release current before this run, kept and reported as PREVIOUS_RELEASE_ID.
read_previous() {
  read_current
  PREVIOUS_RELEASE_ID=$CURRENT_ID
  result previous "$PREVIOUS_RELEASE_ID"
}

# A new link is made in .atomic-deploy/switch and renamed over current: one
# rename(2), no moment without a current. mv -T where it exists (GNU, BusyBox), else the
# portable form that moves the link into the deploy folder.
switch_to() {
  target="releases/$1"
  [ -d "$DEPLOY_PATH/$target" ] || fail switch "cannot switch to $target: no such release folder"
  read_current
  rm -rf "$STATE/switch"
  mkdir "$STATE/switch"
  ln -s "$target" "$STATE/switch/current"
  if ! mv -T "$STATE/switch/current" "$CURRENT_LINK" 2>/dev/null; then
    mv "$STATE/switch/current" "$DEPLOY_PATH/" || fail switch "could not rename the new link over $CURRENT_LINK"
  fi
  rmdir "$STATE/switch"
  now=$(readlink "$CURRENT_LINK" || true)
  [ "$now" = "$target" ] || fail switch "after the switch current points to '$now', expected '$target'"
  say "       current -> $target"
}
