import { ReleasePlan } from './plan'
import { quote } from '../config/shell-quote'

/** One named step of a remote script, as in Deployer: a shell function with a one-line description. */
export interface Step {
  name: string
  description: string
  body: string
}

/** The shell function that runs a step, announcing it first. */
export function renderStep(step: Step): string {
  const fn = `step_${step.name.replace(/-/g, '_')}`
  return `${fn}() {\n  step ${quote(step.name)} ${quote(step.description)}\n${indent(step.body.trim())}\n}`
}

export function callStep(step: Step): string {
  return `step_${step.name.replace(/-/g, '_')}`
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => (line ? `  ${line}` : line))
    .join('\n')
}

export const checkLayout: Step = {
  name: 'layout',
  description: 'Checking the deploy folder',
  body: `
if [ -e "$DEPLOY_PATH" ] && [ ! -d "$DEPLOY_PATH" ]; then
  fail "$E_PATH" "$DEPLOY_PATH exists and is not a folder"
fi
mkdir -p "$DEPLOY_PATH" "$RELEASES" "$SHARED" "$STATE" 2>/dev/null ||
  fail "$E_PATH" "cannot create $DEPLOY_PATH and its folders as user $(id -un); create it and give this user write access"
for dir in "$DEPLOY_PATH" "$RELEASES" "$STATE"; do
  [ -w "$dir" ] || fail "$E_PATH" "user $(id -un) cannot write to $DEPLOY_PATH (or its releases/ and .atomic-deploy/ folders)"
done
`
}

export const takeLockStep: Step = {
  name: 'lock',
  description: 'Taking the deploy lock',
  body: `take_lock`
}

export const checkRelease: Step = {
  name: 'check',
  description: 'Checking current and the new release id',
  body: `
read_previous
if [ -e "$RELEASE_PATH" ] || [ -L "$RELEASE_PATH" ]; then
  fail "$E_RELEASE_EXISTS" "release $RELEASE_ID already exists in $RELEASES"
fi
# We hold the lock, so any staging tree left here is from a run that died.
if [ -d "$STATE/staging" ]; then
  for leftover in "$STATE/staging"/* "$STATE/staging"/.[!.]*; do
    [ -e "$leftover" ] || [ -L "$leftover" ] || continue
    say "       removing a staging tree left by an earlier run: $leftover"
    remove_tree "$leftover"
  done
fi
mkdir -p "$STATE/staging"
`
}

export const receiveUpload: Step = {
  name: 'upload',
  description: 'Receiving the upload into a staging folder',
  body: `
case $COMPRESSION in
  gzip) command -v gzip >/dev/null 2>&1 || fail "$E_MISSING_TOOL" "gzip is not installed on the server" ;;
  zstd) command -v zstd >/dev/null 2>&1 || fail "$E_MISSING_TOOL" "zstd is not installed on the server" ;;
esac
STAGING_CREATED=1
mkdir "$STAGING"
if [ -n "$CACHE_BASE" ]; then
  problem=$(cache_problem)
  [ -z "$problem" ] || fail "$E_CACHE" "the upload cache cannot be used: $problem"
  mkdir "$DELTA"
  unpack_into "$DELTA"
  say "       changes received; building the release from the cache"
  copy_tree "$CACHE" "$STAGING" "$HARDLINK_RELEASE"
  remove_listed "$STAGING"
  cp -a "$DELTA/." "$STAGING/"
else
  unpack_into "$STAGING"
fi
found=$(find "$STAGING" | wc -l)
found=$((found - 1))
[ "$found" -eq "$EXPECTED_ENTRIES" ] ||
  fail "$E_UPLOAD" "the upload is incomplete: expected $EXPECTED_ENTRIES entries, found $found"
say "       $found entries in the release"
if [ "$INCREMENTAL" = 1 ] && ! update_cache; then
  # After a delta, a wrong manifest means the cache was not what it claimed: start over in full.
  [ -z "$CACHE_BASE" ] || fail "$E_CACHE" "the cache manifest after the changes is not what the runner expects"
  say "       warning: the upload cache could not be updated; the next deploy uploads everything"
fi
remove_tree "$DELTA" "$CONTROL"
`
}

export const promoteStaging: Step = {
  name: 'release',
  description: 'Moving the complete upload into releases/',
  body: `
RELEASE_CREATED=1
mv "$STAGING" "$RELEASE_PATH"
STAGING_CREATED=0
# Logged now, so that a release whose deploy died before the switch is known and pruned.
log_event prepared "$RELEASE_ID"
say "       $RELEASE_PATH"
`
}

export function linkShared(plan: ReleasePlan): Step {
  const calls = plan.shared.map(
    (entry) => `link_shared ${quote(entry.path)} ${entry.isDirectory ? 'dir' : 'file'} ${quote(entry.linkTarget)}`
  )
  if (plan.sharedAuto) calls.push(`link_shared_tree ''`)
  return {
    name: 'shared',
    description: 'Linking shared paths into the release',
    body: calls.length ? calls.join('\n') : `say '       no shared paths'`
  }
}

/** Shell function behind `linkShared`: seeds shared/ on first use, never overwrites it, then links. */
export const LINK_SHARED_FUNCTION = `
# link_shared PATH dir|file TARGET: make releases/<id>/PATH a link to shared/PATH.
link_shared() {
  entry=$1
  kind=$2
  link_target=$3
  in_release="$RELEASE_PATH/$entry"
  in_shared="$SHARED/$entry"
  check_real_parents "$RELEASE_PATH" "$entry"
  if [ ! -e "$in_shared" ] && [ ! -L "$in_shared" ]; then
    mkdir -p "$(dirname "$in_shared")"
    if [ -e "$in_release" ] || [ -L "$in_release" ]; then
      if [ "$kind" = dir ] && [ ! -d "$in_release" ]; then
        fail "$E_SHARED" "$entry is listed as a folder ('$entry/') but is a file in the release"
      fi
      if [ "$kind" = file ] && [ -d "$in_release" ]; then
        fail "$E_SHARED" "$entry is a folder in the release; list it with a trailing slash ('$entry/')"
      fi
      say "       shared/$entry: seeded from this release (first deploy with it)"
      mv "$in_release" "$in_shared"
    elif [ "$kind" = dir ]; then
      say "       shared/$entry: created empty"
      mkdir -p "$in_shared"
    else
      fail "$E_SHARED" "shared file $entry is missing: create $in_shared on the server (for example your .env), or include it in the upload once"
    fi
  fi
  if [ "$kind" = dir ] && [ ! -d "$in_shared" ]; then
    fail "$E_SHARED" "shared/$entry is not a folder, but the shared input lists it as one ('$entry/')"
  fi
  if [ "$kind" = file ] && [ -d "$in_shared" ]; then
    fail "$E_SHARED" "shared/$entry is a folder; list it with a trailing slash ('$entry/')"
  fi
  remove_tree "$in_release"
  mkdir -p "$(dirname "$in_release")"
  ln -s "$link_target" "$in_release"
  say "       $entry -> $link_target"
}

# shared-auto: links every entry of shared/DIR (DIR is '' or ends in /) into
# the release with the same structure. Where the release has a folder of the
# same name, it descends instead, so the release keeps its own files there.
link_shared_tree() {
  for item in "$SHARED/$1"* "$SHARED/$1".[!.]* "$SHARED/$1"..?*; do
    [ -e "$item" ] || [ -L "$item" ] || continue
    rel=\${item#"$SHARED/"}
    in_release="$RELEASE_PATH/$rel"
    [ ! -L "$in_release" ] || continue
    if [ -d "$in_release" ] && [ -d "$item" ] && [ ! -L "$item" ]; then
      link_shared_tree "$rel/"
      continue
    fi
    check_real_parents "$RELEASE_PATH" "$rel"
    remove_tree "$in_release"
    mkdir -p "$(dirname "$in_release")"
    ln -s "$(shared_link_target "$rel")" "$in_release"
    say "       $rel -> shared/$rel"
  done
}

# The relative link target for shared/REL, seen from the folder of releases/<id>/REL.
shared_link_target() {
  up=../..
  rest=$1
  while [ "\${rest#*/}" != "$rest" ]; do
    up="$up/.."
    rest=\${rest#*/}
  done
  printf '%s/shared/%s' "$up" "$1"
}

# Refuses a shared entry whose parent folders in the release are symlinks:
# removing the release's copy must never reach outside the release.
check_real_parents() {
  parent=$1
  rest=$2
  while [ "\${rest#*/}" != "$rest" ]; do
    parent="$parent/\${rest%%/*}"
    rest=\${rest#*/}
    if [ -L "$parent" ]; then
      fail "$E_SHARED" "cannot link shared path $2: $parent is a symlink in the release"
    fi
  done
}
`

/** A step that runs one of the user's hooks in the release and fails with its own exit code. */
function hookStep(hook: 'before-activate' | 'after-activate', description: string, outcome: string, prelude = ''): Step {
  const [text, code] = hook === 'before-activate' ? ['$HOOK_BEFORE_ACTIVATE', '$E_BEFORE_ACTIVATE'] : ['$HOOK_AFTER_ACTIVATE', '$E_AFTER_ACTIVATE']
  return {
    name: hook,
    description,
    body: `${prelude}
if ! run_hook ${hook} "$RELEASE_PATH" "${text}"; then
  fail "${code}" "${hook} failed (exit status $hook_status)${outcome}"
fi`
  }
}

export const beforeActivate = hookStep('before-activate', 'Running before-activate in the new release', '')

export const resumeWithLock: Step = {
  name: 'resume',
  description: 'Checking the lock and the prepared release',
  body: `
require_lock
read_previous
[ -d "$RELEASE_PATH" ] || fail "$E_SWITCH" "the prepared release $RELEASE_PATH is missing"
RELEASE_CREATED=1
`
}

export const switchCurrent: Step = {
  name: 'switch',
  description: 'Switching current to the new release',
  body: `
switch_to "$RELEASE_ID"
result switched "$RELEASE_ID"
log_event deployed "$RELEASE_ID"
result current "$RELEASE_ID"
`
}

export const afterActivate = hookStep('after-activate', 'Running after-activate', '', 'require_lock')

/** After a failure elsewhere: back to the release that was current before, and mark the new one bad. */
export const revertSwitch: Step = {
  name: 'revert',
  description: 'Switching back to the previous release',
  body: `
require_lock
read_current
if [ -n "$REVERT_TO" ] && [ -d "$RELEASES/$REVERT_TO" ]; then
  [ "$CURRENT_ID" = "$REVERT_TO" ] || switch_to "$REVERT_TO"
  log_event reverted "$RELEASE_ID"
  result current "$REVERT_TO"
else
  log_event marked-bad "$RELEASE_ID"
  say "       no earlier release to switch back to; $CURRENT_ID stays current, marked bad"
  result current "$CURRENT_ID"
fi
`
}

export const markBad: Step = {
  name: 'mark-bad',
  description: 'Marking the new release bad',
  body: `
require_lock
log_event marked-bad "$RELEASE_ID"
`
}

export const requireLockStep: Step = {
  name: 'lock',
  description: 'Checking the deploy lock',
  body: `require_lock`
}

export const pruneReleases: Step = {
  name: 'prune',
  description: 'Removing old releases',
  body: `
prune_releases || say "       warning: pruning did not finish; the deploy itself succeeded"
`
}

/** Shell function behind `pruneReleases`: order comes from the log, never from timestamps. */
export const PRUNE_FUNCTION = `
# Keeps the current release and the newest good ones up to KEEP in all.
# Deletes only releases the log knows; anything else in releases/ is not ours.
prune_releases() {
  read_current
  kept=" $CURRENT_ID "
  slots=$((KEEP - 1))
  for id in $(good_releases); do
    [ "$slots" -gt 0 ] || break
    is_kept_candidate "$id" || continue
    case $kept in *" $id "*) continue ;; esac
    kept="$kept$id "
    slots=$((slots - 1))
  done
  pruned=
  for id in $(logged_releases); do
    is_kept_candidate "$id" || continue
    case $kept in *" $id "*) continue ;; esac
    [ "$id" != "$CURRENT_ID" ] || continue
    if remove_tree "\${RELEASES:?}/$id"; then
      pruned="$pruned $id"
    else
      say "       warning: could not remove releases/$id"
    fi
  done
  kept=\${kept% }
  say "       kept:$kept"
  say "       removed:\${pruned:- none}"
  result pruned "\${pruned# }"
  trim_log
}

# A name the log gave that is a release folder still on disk.
is_kept_candidate() {
  is_release_id "$1" || return 1
  [ -d "$RELEASES/$1" ]
}

# The log keeps the entries of releases still on disk and the newest 500 lines.
trim_log() {
  [ -f "$LOG" ] || return 0
  total=$(wc -l <"$LOG")
  [ "$total" -gt 1000 ] || return 0
  on_disk=" "
  for dir in "$RELEASES"/*; do on_disk="$on_disk\${dir##*/} "; done
  awk -v keep="$on_disk" -v total="$total" '
    match($0, /"id":"[^"]*"/) { id = substr($0, RSTART + 6, RLENGTH - 7) }
    index(keep, " " id " ") || NR > total - 500
  ' "$LOG" >"$LOG.tmp" && mv "$LOG.tmp" "$LOG"
}
`

export const checkLayoutExists: Step = {
  name: 'layout',
  description: 'Checking the deploy folder',
  body: `
if [ ! -d "$RELEASES" ] || [ ! -d "$STATE" ]; then
  fail "$E_NO_ROLLBACK_TARGET" "$DEPLOY_PATH holds no atomic-deploy releases (no releases/ or .atomic-deploy/ folder)"
fi
`
}

export const pickRollbackTarget: Step = {
  name: 'target',
  description: 'Choosing the release to roll back to',
  body: `
read_previous
if [ -n "$RELEASE_ID" ]; then
  [ -d "$RELEASES/$RELEASE_ID" ] ||
    fail "$E_UNKNOWN_RELEASE" "release $RELEASE_ID is not on the server; releases there: $(release_dirs)"
  [ -n "$(deploy_position "$RELEASE_ID")" ] ||
    fail "$E_UNKNOWN_RELEASE" "release $RELEASE_ID was never switched to (its deploy did not finish); releases there: $(release_dirs)"
else
  current_position=$(deploy_position "$CURRENT_ID")
  for entry in $(good_releases_by_position | tr ' ' ':'); do
    position=\${entry%%:*}
    id=\${entry#*:}
    [ -z "$current_position" ] || [ "$position" -lt "$current_position" ] || continue
    [ "$id" != "$CURRENT_ID" ] || continue
    is_kept_candidate "$id" || continue
    RELEASE_ID=$id
    break
  done
  [ -n "$RELEASE_ID" ] ||
    fail "$E_NO_ROLLBACK_TARGET" "no good release before \${CURRENT_ID:-nothing} to roll back to; releases there: $(release_dirs)"
fi
RELEASE_PATH="$RELEASES/$RELEASE_ID"
say "       \${CURRENT_ID:-nothing} -> $RELEASE_ID"
`
}

export const rollbackBeforeActivate = hookStep('before-activate', 'Running before-activate in the release rolled back to', '; nothing was switched')

export const switchBack: Step = {
  name: 'switch',
  description: 'Switching current to the release rolled back to',
  body: `
if [ "$RELEASE_ID" = "$CURRENT_ID" ]; then
  say "       $RELEASE_ID is already current"
else
  switch_to "$RELEASE_ID"
  [ -z "$PREVIOUS_RELEASE_ID" ] || log_event marked-bad "$PREVIOUS_RELEASE_ID"
  log_event rolled-back "$RELEASE_ID"
fi
result current "$RELEASE_ID"
`
}

export const rollbackAfterActivate = hookStep('after-activate', 'Running after-activate', '; $RELEASE_ID stays current')

export const listReleases: Step = {
  name: 'list',
  description: 'Reading releases and the releases log',
  body: `
read_current
result current "$CURRENT_ID"
for id in $(release_dirs); do result release "$id"; done
if [ -f "$LOG" ]; then
  while IFS= read -r line; do result log "$line"; done <"$LOG"
fi
if [ -d "$LOCK" ]; then result lock "$(lock_holder)"; fi
`
}

export const forceUnlock: Step = {
  name: 'unlock',
  description: 'Freeing the deploy lock',
  body: `
if [ ! -d "$LOCK" ]; then
  say "       there is no lock at $LOCK"
  result unlocked ''
  return 0
fi
holder=$(lock_holder)
if lock_is_stale; then state='its deploy is gone'; else state='its deploy may still be running'; fi
say "       removing the lock held by $holder ($state)"
rm -rf "$LOCK" "$LOCK.takeover"
result unlocked "$holder"
`
}

export const readCacheManifest: Step = {
  name: 'inspect',
  description: 'Checking the server: tools, and the upload cache',
  body: `
for tool in zstd gzip sha256sum; do
  if command -v "$tool" >/dev/null 2>&1; then result has "$tool"; fi
done
if [ ! -f "$MANIFEST" ]; then
  result cache-miss 'there is no upload cache yet'
  return 0
fi
CACHE_BASE=$(sha256_of "$MANIFEST")
problem=$(cache_problem)
if [ -n "$problem" ]; then
  result cache-miss "$problem"
  return 0
fi
result cache-ok "$CACHE_BASE"
printf '@@manifest-follows\\n'
cat "$MANIFEST"
printf '@@manifest-ends\\n'
`
}
