# lib/output.sh: what a phase tells the runner and the person reading.
# Step banners, notes and errors go to stderr; stdout carries only
# `@@key value` lines (the keys are listed in src/ssh/protocol.ts).

result() { printf '@@%s %s\n' "$1" "$2"; }
say() { printf '%s\n' "$*" >&2; }

# step NAME DESCRIPTION: announces a step, as `-----> Description`.
step() {
  result step "$1"
  printf -- '-----> %s\n' "$2" >&2
}

# fail KIND MESSAGE...: says what happened (and what to do), then exits
# with the code of KIND (lib/exit-codes.sh).
fail() {
  code=$(exit_code "$1")
  shift
  printf 'error: %s\n' "$*" >&2
  result error "$*"
  exit "$code"
}

# Every phase ends through its on_exit; a signal exits with the usual 128+n.
trap_exits() {
  trap on_exit EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 141' PIPE
}

# The last line of a phase that ran to its end.
finished() { result finished "$1"; }
