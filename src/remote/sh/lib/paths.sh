# lib/paths.sh: the deploy folder.
#
#   current -> releases/<id>   relative link, only ever replaced by rename(2)
#   releases/<id>/             complete trees, one per release
#   shared/                    persists across releases (lib/shared.sh)
#   .atomic-deploy/            the tool's own state: lock/ (lib/lock.sh),
#                              releases.log (lib/log.sh), staging/ and cache/
#                              (lib/cache.sh)
# Each library file names the paths it owns.
# shellcheck disable=SC2034 # named once here for every phase; unlock and inspect never use it
RELEASES="$DEPLOY_PATH/releases"
STATE="$DEPLOY_PATH/.atomic-deploy"
