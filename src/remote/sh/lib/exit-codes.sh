# lib/exit-codes.sh: one exit code per kind of failure (as in Mina), so that
# the runner can say what happened and what to do. src/remote/exit-codes.ts
# names the same codes for the TypeScript side (EXIT.releaseExists is
# release-exists here); a unit test keeps the two equal.

# exit_code KIND: the exit code for a kind of failure.
exit_code() {
  case $1 in
    path) echo 10 ;;
    locked) echo 11 ;;
    release-exists) echo 12 ;;
    current-not-link) echo 13 ;;
    upload) echo 14 ;;
    shared) echo 15 ;;
    before-activate) echo 16 ;;
    switch) echo 17 ;;
    after-activate) echo 18 ;;
    lock-lost) echo 19 ;;
    missing-tool) echo 20 ;;
    no-rollback-target) echo 21 ;;
    unknown-release) echo 22 ;;
    # The upload cache is not usable: the runner sends everything instead.
    cache) echo 23 ;;
    env-file) echo 24 ;;
    writable) echo 25 ;;
    unhealthy) echo 26 ;;
    http-client) echo 27 ;;
    *) echo 1 ;;
  esac
}
