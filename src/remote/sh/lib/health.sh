# lib/health.sh: proving that a release works, from the server itself.
# Needs lib/output.sh, lib/paths.sh, lib/release.sh, lib/hooks.sh (stop_group).
#
# A check is every HEALTH_URLS line (fetched with curl, wget or BusyBox wget,
# whichever the server has) answering a status in HEALTH_STATUS with
# HEALTH_EXPECT in its body, and HEALTH_COMMAND exiting 0 in the release.
# Each try is bounded by the time left (a watchdog stops what runs past it,
# as BusyBox wget has no timeout option on every build). What the last try
# saw of each failing check is kept in PROBE_DIR/notes, a line each.

HTTP_CLIENT=
PROBE_DIR="$STATE/health.$$"

# find_http_client: sets HTTP_CLIENT to curl, wget (GNU) or busybox-wget, or ''.
find_http_client() {
  if command -v curl >/dev/null 2>&1; then
    HTTP_CLIENT=curl
  elif command -v wget >/dev/null 2>&1 && ! wget --help 2>&1 | grep -q BusyBox; then
    HTTP_CLIENT=wget
  elif command -v wget >/dev/null 2>&1 || { command -v busybox >/dev/null 2>&1 && busybox --list 2>/dev/null | grep -qx wget; }; then
    HTTP_CLIENT=busybox-wget
  else
    HTTP_CLIENT=
  fi
}

require_http_client() {
  find_http_client
  [ -n "$HTTP_CLIENT" ] ||
    fail http-client "health-url is set, but the server has no HTTP client to fetch it with: install curl or wget (apt-get install curl, apk add curl), or check with health-command instead"
}

# bounded SECONDS COMMAND...: runs the command (in a session of its own where
# setsid is there), stopped after SECONDS; its status, or 124 when stopped.
bounded() {
  bound_seconds=$1
  shift
  rm -f "$PROBE_DIR/timed-out"
  if command -v setsid >/dev/null 2>&1; then setsid "$@" & else "$@" & fi
  HOOK_GROUP=$!
  (
    sleep "$bound_seconds"
    : >"$PROBE_DIR/timed-out"
    stop_group "$HOOK_GROUP"
  ) </dev/null >/dev/null 2>&1 &
  WATCHDOG=$!
  bound_status=0
  wait "$HOOK_GROUP" || bound_status=$?
  kill "$WATCHDOG" 2>/dev/null || true
  WATCHDOG=
  HOOK_GROUP=
  if [ -e "$PROBE_DIR/timed-out" ]; then return 124; fi
  return "$bound_status"
}

# fetch URL SECONDS: the body into PROBE_DIR/body, the status into PROBE_STATUS ('' for no answer).
fetch() {
  : >"$PROBE_DIR/body"
  fetch_status=0
  case $HTTP_CLIENT in
    curl)
      # -L: wget follows redirects (BusyBox's always), so curl does too and the status is the last page's.
      bounded "$2" curl -sS -L --max-redirs 20 -o "$PROBE_DIR/body" -w '%{http_code}' --max-time "$2" -- "$1" >"$PROBE_DIR/status" 2>"$PROBE_DIR/err" || fetch_status=$?
      PROBE_STATUS=$(cat "$PROBE_DIR/status")
      [ "$PROBE_STATUS" != 000 ] || PROBE_STATUS=
      ;;
    wget)
      bounded "$2" wget -q -S --content-on-error -t 1 -T "$2" -O "$PROBE_DIR/body" -- "$1" 2>"$PROBE_DIR/err" || fetch_status=$?
      PROBE_STATUS=$(http_status_in "$PROBE_DIR/err")
      ;;
    *)
      wget_command=wget
      command -v wget >/dev/null 2>&1 || wget_command='busybox wget'
      # shellcheck disable=SC2086 # busybox wget is two words, split on purpose
      bounded "$2" $wget_command -q -S -O "$PROBE_DIR/body" "$1" 2>"$PROBE_DIR/err" || fetch_status=$?
      PROBE_STATUS=$(http_status_in "$PROBE_DIR/err")
      ;;
  esac
  if [ -z "$PROBE_STATUS" ] && [ "$fetch_status" = 0 ]; then PROBE_STATUS=200; fi
  return 0
}

# The last HTTP status line wget printed (it follows redirects; BusyBox says
# "server returned error: HTTP/1.1 500 ..." for an error status).
http_status_in() { sed -n 's/.*HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' "$1" | tail -n 1; }

status_accepted() {
  case $1 in [1-5][0-9][0-9]) ;; *) return 1 ;; esac
  for range in $HEALTH_STATUS; do
    [ "$1" -lt "${range%-*}" ] || [ "$1" -gt "${range#*-}" ] || return 0
  done
  return 1
}

# The first 300 bytes of a file, on one line.
excerpt() { dd if="$1" bs=300 count=1 2>/dev/null | tr '\000-\037' ' '; }

# seconds_left: whole seconds until HEALTH_DEADLINE, at least 1.
seconds_left() {
  left=$((HEALTH_DEADLINE - $(date +%s)))
  [ "$left" -ge 1 ] || left=1
  echo "$left"
}

# check_url URL: healthy, or a note in PROBE_DIR/notes saying what the try saw.
check_url() {
  fetch "$1" "$(seconds_left)"
  if [ -z "$PROBE_STATUS" ]; then
    printf '%s: no answer (%s)\n' "$1" "$(excerpt "$PROBE_DIR/err")" >>"$PROBE_DIR/notes"
    return 1
  fi
  if ! status_accepted "$PROBE_STATUS"; then
    printf '%s: status %s, body: %s\n' "$1" "$PROBE_STATUS" "$(excerpt "$PROBE_DIR/body")" >>"$PROBE_DIR/notes"
    return 1
  fi
  if [ -n "$HEALTH_EXPECT" ] && ! grep -qF -- "$HEALTH_EXPECT" "$PROBE_DIR/body"; then
    printf '%s: status %s, but the body does not contain "%s"; body: %s\n' "$1" "$PROBE_STATUS" "$HEALTH_EXPECT" "$(excerpt "$PROBE_DIR/body")" >>"$PROBE_DIR/notes"
    return 1
  fi
}

# check_command: health-command in the release, from a file only this user may read (it may hold secrets).
check_command() {
  (umask 077 && printf '%s\n' "$HEALTH_COMMAND" >"$PROBE_DIR/command")
  command_status=0
  export RELEASE_ID RELEASE_PATH DEPLOY_PATH DEPLOY_MODE
  # shellcheck disable=SC2016 # the inner sh expands its own arguments
  bounded "$(seconds_left)" sh -c 'cd "$1" && exec sh -e "$2"' health-command "$RELEASE_PATH" "$PROBE_DIR/command" </dev/null >"$PROBE_DIR/output" 2>&1 || command_status=$?
  [ "$command_status" != 0 ] || return 0
  if [ "$command_status" = 124 ]; then
    printf 'health-command: still running when health-timeout ran out; output: %s\n' "$(excerpt "$PROBE_DIR/output")" >>"$PROBE_DIR/notes"
  else
    printf 'health-command: exit status %s; output: %s\n' "$command_status" "$(excerpt "$PROBE_DIR/output")" >>"$PROBE_DIR/notes"
  fi
  return 1
}

# check_once: every check, each one tried (so that the notes name every failing one).
check_once() {
  : >"$PROBE_DIR/notes"
  healthy=0
  while IFS= read -r url; do
    [ -z "$url" ] || check_url "$url" || healthy=1
  done <<EOF
$HEALTH_URLS
EOF
  if [ -n "$HEALTH_COMMAND" ]; then check_command || healthy=1; fi
  return "$healthy"
}

remove_probe_dir() { rm -rf "$PROBE_DIR"; }
