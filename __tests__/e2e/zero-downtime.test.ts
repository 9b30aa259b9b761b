/**
 * The "zero downtime" promise, measured: a real nginx serves
 * `<deploy root>/current/public` while a load generator hammers it and the
 * committed bundle deploys and rolls back over and over. Not one request may
 * fail, and every body must be a whole file of a release that was deployed.
 *
 * The same scenario runs twice: against the server's stock tools (dash, GNU
 * coreutils and tar), and against BusyBox (sh, mv, ln, tar, readlink...).
 * A control shows that the checker does see a non-atomic switch.
 *
 * How sensitive the scenarios are, measured on a 2-core machine with a copy
 * of the bundle whose switch was `busybox ln -sfn` (unlink, then symlink, in
 * one process: a gap of some tens of microseconds): a scenario saw 3 to 10
 * failed requests in 7 runs of 8 (0 in one), and the file failed in all 4
 * runs. With a gap made by two processes (rm, then mv) they saw 46 and 94.
 */
import { spawn, execFileSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { TestNginx, findNginx, startNginx } from './nginx-harness'
import { ActionRun } from './run-action'
import { LOAD_MAX_MS, LOAD_MAX_REQUESTS, LoadReport, describeLoad, failuresOf, fetchOnce, startLoad } from '../support/load'
import { PLAN, Site, deployUnderLoad } from './under-load'

/** A scenario's own time limit: past the load's guard, with room for set-up. */
const SCENARIO_TIMEOUT_MS = LOAD_MAX_MS + 120_000

/** What a release's files hold, byte for byte; a body must match one of these whole. */
const indexHtml = (id: string): string => `<html>release ${id}</html>\n`
const versionTxt = (id: string): string => `${id}\n`
const PAGES = {
  '/version.txt': /^(r\d\d)\n$/,
  '/index.html': /^<html>release (r\d\d)<\/html>\n$/
}

// ---- the servers -------------------------------------------------------------

const siteOf = (server: TestServer): string => path.join(server.root, 'site')

function findBusybox(): string {
  for (const candidate of ['/usr/bin/busybox', '/bin/busybox', '/usr/local/bin/busybox']) {
    if (fs.existsSync(candidate)) return candidate
  }
  throw new Error('busybox is not installed, and the BusyBox zero-downtime test needs it. Install it with: sudo apt-get install -y busybox')
}

// nginx is looked up first, so that a missing nginx fails the file at once
// (never skips it) with the line that installs it.
findNginx()
const BUSYBOX = findBusybox()

let stock: { server: TestServer; nginx: TestNginx } | undefined
let busybox: { server: TestServer; nginx: TestNginx } | undefined
let bin: string | undefined

beforeAll(async () => {
  // A folder of BusyBox applets (sh, mv, ln, tar, readlink, ...: symlinks to
  // the busybox binary), first in PATH for the second server's sessions.
  bin = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-busybox-'))
  fs.chmodSync(bin, 0o755)
  execFileSync(BUSYBOX, ['--install', '-s', bin])
  // How the server is made to use them: sshd's SetEnv (OpenSSH 7.8+) is
  // applied to every session after sshd's own defaults, PATH included, so the
  // deploy user's login shell runs the bundle's `sh -c <reader>` with BusyBox
  // first in PATH: the script's sh, and every mv, ln, tar, readlink it and the
  // hooks call, are BusyBox. The other ways were worse: AcceptEnv needs the
  // client to send PATH, which the bundle never does; ~/.ssh/environment needs
  // PermitUserEnvironment and a file in the home of the deploy user that the
  // other test files share; a BusyBox login shell needs usermod, a change to
  // the machine. The first deploy of the BusyBox test checks that it worked.
  const busyboxServer = await startSshd({ extraConfig: `SetEnv PATH=${bin}:/usr/local/bin:/usr/bin:/bin` })
  busybox = { server: busyboxServer, nginx: await startNginx(siteOf(busyboxServer)) }
  const stockServer = await startSshd()
  stock = { server: stockServer, nginx: await startNginx(siteOf(stockServer)) }
})

afterAll(async () => {
  for (const running of [stock, busybox]) {
    await running?.nginx.stop()
    await running?.server.stop()
  }
  if (bin) fs.rmSync(bin, { recursive: true, force: true })
})

// ---- the scenario ------------------------------------------------------------

const SWITCHES = PLAN.length

/** The static site of the scenarios: two files naming the release, served by nginx. */
const staticSite = (server: TestServer, nginx: TestNginx): Site => ({
  root: siteOf(server),
  port: nginx.port,
  pages: PAGES,
  files: (id) => ({ 'public/index.html': indexHtml(id), 'public/version.txt': versionTxt(id) })
})

async function scenario(label: string, server: TestServer, nginx: TestNginx, probe?: { hook: string; check(run: ActionRun): void }): Promise<void> {
  const run = await deployUnderLoad(label, server, staticSite(server, nginx), { probe })
  console.log(describeLoad(label, run.report))
  // nginx really serves the deploy root: it shows the release current now.
  expect(run.servedAtEnd).toBe(run.timeline[run.timeline.length - 1].id)
  expectZeroDowntime(label, run.report, run.switches)
}

function expectZeroDowntime(label: string, report: LoadReport, switches: number): void {
  expect(report.samples, describeLoad(label, report)).toEqual([])
  expect(report.non2xx).toBe(0)
  expect(report.connectionErrors).toBe(0)
  expect(report.badBodies).toBe(0)
  for (const [body, count] of report.bodies) {
    expect(/^(<html>release r\d\d<\/html>|r\d\d)\n$/.test(body), `body ${JSON.stringify(body)} (${count}x)`).toBe(true)
  }
  expect(report.stoppedBy, `the load reached its hang guard (${LOAD_MAX_MS / 1000} s or ${LOAD_MAX_REQUESTS} requests) after ${switches} of ${SWITCHES} switches`).toBe('caller')
  expect(switches).toBe(SWITCHES)
  expect(report.requests).toBeGreaterThan(1000)
  // The switches were visible to nginx (it did not serve one release from a cache).
  expect(report.idsSeen.size).toBeGreaterThanOrEqual(6)
}

// ---- the tests ---------------------------------------------------------------

describe('zero downtime: nginx under load while dist/index.js deploys and rolls back', () => {
  // The control runs first, alone; the two scenarios then run side by side
  // (each with its own sshd, nginx and load), which keeps the file within a
  // minute on two cores, and only adds contention for the switch to survive.
  it('control: the same checker sees the gap when current is swapped non-atomically (busybox ln -sfn)', async () => {
    // A deploy root made by hand, independent of the product: two releases
    // and a current link, served by its own nginx.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-control-'))
    fs.chmodSync(root, 0o755)
    const ids = ['r01', 'r02']
    for (const id of ids) {
      fs.mkdirSync(path.join(root, 'releases', id, 'public'), { recursive: true })
      fs.writeFileSync(path.join(root, 'releases', id, 'public/index.html'), indexHtml(id))
      fs.writeFileSync(path.join(root, 'releases', id, 'public/version.txt'), versionTxt(id))
    }
    fs.symlinkSync('releases/r01', path.join(root, 'current'))
    const nginx = await startNginx(root)
    try {
      expect(await fetchOnce(nginx.port, '/version.txt')).toBe('200 r01\n')
      let phase = 'warm-up'
      const load = startLoad(nginx.port, PAGES, new Set(ids), () => phase)
      let report: LoadReport
      let swaps = 0
      try {
        await new Promise((resolve) => setTimeout(resolve, 300))
        phase = 'ln -sfn swaps'
        // 300 swaps, alternating; ln -sfn unlinks current, then makes it anew.
        const script = `i=0; while [ $i -lt 150 ]; do ${BUSYBOX} ln -sfn releases/r02 current; ${BUSYBOX} ln -sfn releases/r01 current; i=$((i + 1)); done; echo "swaps=$((i * 2))"`
        const child = spawn('sh', ['-c', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
        let output = ''
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
        const code = await new Promise((resolve) => child.on('close', resolve))
        clearTimeout(timer)
        swaps = Number(/swaps=(\d+)/.exec(output)?.[1] ?? 0)
        expect(code).toBe(0)
      } finally {
        phase = 'cool-down'
        report = await load.stop()
      }
      console.log(describeLoad('control', report))
      console.log(`[control] ${swaps} non-atomic swaps; failures seen by the checker: ${failuresOf(report)}`)
      expect(swaps).toBe(300)
      expect(report.requests).toBeGreaterThan(300)
      expect(failuresOf(report), 'the checker must see a non-atomic switch').toBeGreaterThan(0)
    } finally {
      await nginx.stop()
      fs.rmSync(root, { recursive: true, force: true })
    }
  })

  it.concurrent(
    'with the stock server tools (dash, GNU coreutils and tar), no request fails and no body is mixed',
    async () => {
      await scenario('stock', stock!.server, stock!.nginx)
    },
    SCENARIO_TIMEOUT_MS
  )

  it.concurrent(
    'with BusyBox sh, mv, ln, tar and readlink on the server, no request fails and no body is mixed',
    async () => {
      const { server, nginx } = busybox!
      // Before the load: which binaries does the server really run? The first
      // deploy's before-activate reports them (the hook's parent is the
      // bundle's own script shell), and the scenario stops here unless every
      // one is BusyBox.
      const hook = [
        'echo "probe mv=$(readlink -f "$(command -v mv)")"',
        'for tool in sh ln tar readlink; do echo "probe $tool=$(readlink -f "$(command -v $tool)")"; done',
        'echo "probe hook-shell=$(readlink -f /proc/$$/exe)"',
        'echo "probe script-shell=$(readlink -f /proc/$PPID/exe)"'
      ].join('\n')
      const check = (run: ActionRun): void => {
        const probed = Object.fromEntries([...run.stdout.matchAll(/^probe ([\w-]+)=(.*)$/gm)].map((m) => [m[1], m[2].trim()]))
        console.log(`[busybox] probe: ${JSON.stringify(probed)}`)
        const busyboxBinary = fs.realpathSync(BUSYBOX)
        for (const name of ['mv', 'sh', 'ln', 'tar', 'readlink', 'hook-shell', 'script-shell']) {
          expect(probed[name], `${name} on the server should be BusyBox:\n${run.stdout}`).toBe(busyboxBinary)
        }
      }
      await scenario('busybox', server, nginx, { hook, check })
    },
    SCENARIO_TIMEOUT_MS
  )
})
