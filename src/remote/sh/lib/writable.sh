# lib/writable.sh: folders the web server's user may write to (writable).
# WRITABLE_PATHS: one folder a line, relative to the release (created when
# missing; one inside a shared link is opened in shared/). WRITABLE_MODE:
#
#   acl    setfacl: WRITABLE_USER and the deploy user get rwX, on every folder
#          also as default ACLs, so that what WRITABLE_USER creates there
#          stays removable by the deploy user, and old releases can be pruned
#   chgrp  WRITABLE_USER's primary group (the deploy user must be in it),
#          g+rwX, folders setgid so that new files keep the group
#   chmod  a+rwX: every user of the server may write there
#
# In the release, a file hard-linked to the upload cache gets a copy of its
# own first. Only entries the deploy user owns are changed (find -user):
# what another user made there already (in shared/) is theirs and stays as
# it is. find follows no symlink inside, and a folder that resolves outside
# the release and shared/ is refused.
# Needs lib/output.sh, lib/exit-codes.sh, lib/release.sh, lib/shared.sh, lib/fs.sh.

# Before anything on the server changes: the tool and the user are there,
# and with chgrp the SSH user is in that user's group.
check_writable() {
  [ -n "$WRITABLE_PATHS" ] || return 0
  if [ "$WRITABLE_MODE" = acl ] && ! command -v setfacl >/dev/null 2>&1; then
    fail missing-tool "writable-mode acl needs setfacl, which this server does not have: install it (apt-get install acl) or choose writable-mode chgrp or chmod"
  fi
  if [ "$WRITABLE_MODE" != chmod ] && ! id "$WRITABLE_USER" >/dev/null 2>&1; then
    fail writable "writable-user $WRITABLE_USER does not exist on this server; name the user the web server runs as"
  fi
  if [ "$WRITABLE_MODE" = chgrp ] && ! in_group "$(id -g "$WRITABLE_USER")"; then
    group=$(id -gn "$WRITABLE_USER")
    fail writable "writable-mode chgrp gives the folders to group $group of $WRITABLE_USER, and user $(id -un) is not a member of it: add it (usermod -aG $group $(id -un), then log in again) or choose writable-mode acl"
  fi
}

# in_group GID: the SSH user may give files to that group (root may give them to any).
in_group() {
  [ "$(id -u)" = 0 ] && return 0
  for gid in $(id -G); do [ "$gid" = "$1" ] && return 0; done
  return 1
}

open_writable_paths() {
  while IFS= read -r entry; do
    [ -n "$entry" ] || continue
    open_writable "$entry"
  done <<ENTRIES
$WRITABLE_PATHS
ENTRIES
}

open_writable() {
  in_release="$RELEASE_PATH/$1"
  if [ ! -e "$in_release" ] && [ ! -L "$in_release" ]; then make_dirs "$in_release"; fi
  [ -d "$in_release" ] || fail writable "writable path $1 is not a folder in the release"
  real=$(cd -P "$in_release" && pwd -P)
  case $real/ in
    "$(cd -P "$RELEASE_PATH" && pwd -P)"/* | "$(cd -P "$SHARED" && pwd -P)"/*) ;;
    *) fail writable "writable path $1 leads outside the release and shared/ (to $real)" ;;
  esac
  me=$(id -un)
  case $real/ in
    "$(cd -P "$RELEASE_PATH" && pwd -P)"/*) own_copies "$real" || fail writable "the files in $1 could not be copied out of the upload cache's hard links (is the server's disk full?)" ;;
  esac
  case $WRITABLE_MODE in
    acl)
      if ! {
        find "$real" ! -type l -user "$me" -exec setfacl -m "u:$WRITABLE_USER:rwX,u:$me:rwX" {} + &&
          find "$real" -type d -user "$me" -exec setfacl -d -m "u:$WRITABLE_USER:rwX,u:$me:rwX" {} +
      }; then
        fail writable "setfacl could not open $1 to $WRITABLE_USER (does the file system support ACLs?)"
      fi
      ;;
    chgrp)
      group=$(id -gn "$WRITABLE_USER")
      find "$real" ! -type l -user "$me" -exec chgrp "$group" {} + ||
        fail writable "$1 cannot be given to group $group of $WRITABLE_USER: user $me must be a member of it (usermod -aG $group $me), or choose writable-mode acl"
      find "$real" ! -type l -user "$me" -exec chmod g+rwX {} + &&
        find "$real" -type d -user "$me" -exec chmod g+s {} +
      ;;
    chmod) find "$real" ! -type l -user "$me" -exec chmod a+rwX {} + ;;
  esac
  say "       $1: writable by ${WRITABLE_USER:-every user} ($WRITABLE_MODE)"
}
