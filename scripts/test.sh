#!/usr/bin/env bash
# The one test command (npm test): installs what the tests need when it is
# missing, checks that dist/ matches src/, lints, checks formatting, and runs
# every test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/sbin/sshd ] || command -v sshd >/dev/null || missing+=(openssh-server)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v busybox >/dev/null || missing+=(busybox)
command -v dash >/dev/null || missing+=(dash)
command -v zstd >/dev/null || missing+=(zstd)
# setfacl: writable-mode acl, and its tests.
command -v setfacl >/dev/null || missing+=(acl)
# bsdtar, the tar of macOS and Windows runners: the runner tests pack with it.
[ -x /usr/bin/bsdtar ] || missing+=(libarchive-tools)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx-light)
# The PHP stack test runs Debian's PHP-FPM (with OPcache); any version will do.
compgen -G '/usr/sbin/php-fpm*' >/dev/null || missing+=(php-fpm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "The tests need: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # No install scripts: ssh2's optional native addons would make the bundle machine-specific.
  npm ci --ignore-scripts --no-audit --no-fund
fi

echo "== typecheck"
npx tsc -p tsconfig.test.json

echo "== dist/ is built from src/"
bash scripts/check-dist.sh

echo "== ShellCheck on the server script's sources (every phase, with the library files it includes)"
shellcheck --shell=sh --external-sources --check-sourced --source-path=SCRIPTDIR src/remote/sh/*.sh

echo "== action.yml, CI workflows and the workflows in the docs"
node scripts/lint-workflows.js

echo "== lint (ESLint: type-checked rules, no import cycles)"
npx eslint .

echo "== formatting (Prettier)"
npx prettier --check src __tests__

echo "== tests"
mkdir -p .tmp
rm -f .tmp/vitest*.json
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json || status=$?

# GitHub runs the action on node24; this machine's Node may be older.
echo "== the deploy and fleet tests again, with the bundle run by Node 24"
node24=$(bash scripts/node24.sh)
ATOMIC_DEPLOY_TEST_NODE=$node24 ATOMIC_DEPLOY_EXPECT_NODE_MAJOR=24 npx vitest run --project main \
  __tests__/e2e/deploy.test.ts __tests__/e2e/fleet.test.ts __tests__/e2e/node-version.test.ts \
  --reporter=default --reporter=json --outputFile.json=.tmp/vitest-node24.json || status=$?

node -e '
  const runs = ["./.tmp/vitest.json", "./.tmp/vitest-node24.json"].map((f) => require(f));
  const sum = (key) => runs.reduce((n, r) => n + r[key], 0);
  console.log(`${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests") + sum("numTodoTests")} skipped`);
  if (runs.some((r) => r.numTotalTests === 0)) process.exit(1);
'
exit $status
