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
import * as http from 'http'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { TestNginx, findNginx, startNginx } from './nginx-harness'
import { ActionRun, connectionInputs, makeWorkspace, runAction } from './run-action'

// ---- the load generator ------------------------------------------------------

const LOOPS = 4
/**
 * The load ends when the scenario has made its switches; these bounds are
 * only guards against a hang, ten times what a busy 2-core machine needs
 * (about 30 s for the 10 switches).
 */
const LOAD_MAX_MS = 300_000
const LOAD_MAX_REQUESTS = 3_000_000
/** A scenario's own time limit: past the load's guard, with room for set-up. */
const SCENARIO_TIMEOUT_MS = LOAD_MAX_MS + 120_000
const REQUEST_TIMEOUT_MS = 5_000

/** What a release's files hold, byte for byte; a body must match one of these whole. */
const indexHtml = (id: string): string => `<html>release ${id}</html>\n`
const versionTxt = (id: string): string => `${id}\n`
const BODY = {
  '/index.html': /^<html>release (r\d\d)<\/html>\n$/,
  '/version.txt': /^(r\d\d)\n$/
} as const
type Page = keyof typeof BODY

interface LoadReport {
  requests: number
  durationMs: number
  /** Why the loops ended: the caller stopped them, or a bound was reached. */
  stoppedBy: 'caller' | 'time' | 'count'
  non2xx: number
  connectionErrors: number
  /** Bodies that are not a whole file naming a release deployed by then. */
  badBodies: number
  /** Every body received, with how many times. */
  bodies: Map<string, number>
  idsSeen: Set<string>
  /** The first few failures, with what was going on at the time. */
  samples: string[]
}

interface Load {
  /** True once the loops ended on their own, at a bound (time or count). */
  ended(): boolean
  /** Ends the loops (each finishes its request in flight) and returns the report. */
  stop(): Promise<LoadReport>
}

/**
 * Starts LOOPS request loops on one keep-alive agent, alternating between
 * /index.html and /version.txt. `allowed` holds the release ids that may be
 * served at this moment (a deploy adds its id before it starts); `phase` says
 * what the test is doing, for the failure samples.
 */
function startLoad(port: number, allowed: ReadonlySet<string>, phase: () => string): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: LOOPS })
  const started = Date.now()
  const deadline = started + LOAD_MAX_MS
  const report: LoadReport = {
    requests: 0,
    durationMs: 0,
    stoppedBy: 'caller',
    non2xx: 0,
    connectionErrors: 0,
    badBodies: 0,
    bodies: new Map(),
    idsSeen: new Set(),
    samples: []
  }
  let stopping = false
  const sample = (what: string): void => {
    if (report.samples.length < 20) report.samples.push(`${Date.now() - started} ms, during ${phase()}: ${what}`)
  }

  const get = (page: Page): Promise<{ status: number; body: string } | { error: string }> =>
    new Promise((resolve) => {
      const request = http.get({ host: '127.0.0.1', port, path: page, agent }, (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
        response.on('error', (error) => resolve({ error: `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}` }))
      })
      request.setTimeout(REQUEST_TIMEOUT_MS, () => request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)))
      request.on('error', (error) => resolve({ error: `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}` }))
    })

  const loop = async (n: number): Promise<void> => {
    for (let i = n; ; i++) {
      if (stopping) return
      if (Date.now() >= deadline) {
        report.stoppedBy = 'time'
        return
      }
      if (report.requests >= LOAD_MAX_REQUESTS) {
        report.stoppedBy = 'count'
        return
      }
      const page: Page = i % 2 === 0 ? '/index.html' : '/version.txt'
      report.requests++
      const result = await get(page)
      if ('error' in result) {
        report.connectionErrors++
        sample(`GET ${page}: connection error ${result.error}`)
        continue
      }
      report.bodies.set(result.body, (report.bodies.get(result.body) ?? 0) + 1)
      if (result.status < 200 || result.status > 299) {
        report.non2xx++
        sample(`GET ${page}: HTTP ${result.status} ${JSON.stringify(result.body.slice(0, 80))}`)
        continue
      }
      const id = BODY[page].exec(result.body)?.[1]
      if (!id || !allowed.has(id)) {
        report.badBodies++
        sample(`GET ${page}: body ${JSON.stringify(result.body.slice(0, 80))} names ${id ? `release ${id}, not deployed by then` : 'no release'}`)
        continue
      }
      report.idsSeen.add(id)
    }
  }
  const loops = Array.from({ length: LOOPS }, (_, n) => loop(n))

  return {
    ended: () => report.stoppedBy !== 'caller',
    stop: async () => {
      stopping = true
      await Promise.all(loops)
      agent.destroy()
      report.durationMs = Date.now() - started
      return report
    }
  }
}

const failuresOf = (report: LoadReport): number => report.non2xx + report.connectionErrors + report.badBodies

function describeLoad(label: string, report: LoadReport): string {
  const seconds = report.durationMs / 1000
  return (
    `[${label}] ${report.requests} requests in ${seconds.toFixed(1)} s ` +
    `(${Math.round(report.requests / seconds)}/s, ${LOOPS} loops, stopped by ${report.stoppedBy}); ` +
    `non-2xx ${report.non2xx}, connection errors ${report.connectionErrors}, bad bodies ${report.badBodies}; ` +
    `releases seen: ${[...report.idsSeen].sort().join(' ')}` +
    (report.samples.length ? `\n  first failures:\n  ${report.samples.join('\n  ')}` : '')
  )
}

/** One plain request, outside the load, to see what nginx serves now. */
async function fetchOnce(port: number, page: Page): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${page}`)
  return `${response.status} ${await response.text()}`
}

// ---- the servers -------------------------------------------------------------

const siteOf = (server: TestServer): string => path.join(server.root, 'site')
const currentOf = (root: string): string => fs.readlinkSync(path.join(root, 'current'))

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

const RELEASES = Array.from({ length: 6 }, (_, i) => `r${String(i + 1).padStart(2, '0')}`)

/**
 * What runs under load, in order: deploys of r02..r06 with rollbacks in
 * between, both to the previous good release (which marks the one rolled
 * away from bad) and by id: 10 switches, 11 with the first deploy, which
 * runs before the load. The load stops when they are done.
 */
const PLAN = [
  'deploy r02', 'rollback',
  'deploy r03', 'deploy r04', 'rollback', 'rollback to r04',
  'deploy r05', 'deploy r06', 'rollback', 'rollback to r06'
] // prettier-ignore
const SWITCHES = PLAN.length

/**
 * Deploys r01 (with `probe.hook` as its before-activate, and `probe.check`
 * run on its result before anything else), starts the load, then runs PLAN
 * through the bundle, checking after each operation that current is where
 * the action and a model of the releases log say. Returns the load report
 * and the switches made under load.
 */
async function deployUnderLoad(
  label: string,
  server: TestServer,
  nginx: TestNginx,
  probe?: { hook: string; check(run: ActionRun): void }
): Promise<{ report: LoadReport; switches: number }> {
  const root = siteOf(server)
  const base = { ...connectionInputs(server), path: root, keep: '20' }
  const allowed = new Set<string>()
  // A model of the releases log: ids in deploy order, the order in which they
  // last became current (a rollback's target is the latest good one of those
  // other than current), the ones marked bad.
  const deployed: string[] = []
  const activated: string[] = []
  const bad = new Set<string>()
  const activate = (id: string): void => {
    activated.splice(activated.indexOf(id) >>> 0, activated.includes(id) ? 1 : 0)
    activated.push(id)
  }
  let current = ''
  let phase = 'warm-up'

  const check = (run: ActionRun, expected: string): void => {
    expect(run.code, `${phase}:\n${run.stdout}\n${run.stderr}`).toBe(0)
    expect(run.outputs['release-id'], phase).toBe(expected)
    expect(currentOf(root), phase).toBe(`releases/${expected}`)
    current = expected
    activate(expected)
  }
  const deploy = async (id: string, hook = ''): Promise<ActionRun> => {
    phase = `deploy ${id}`
    allowed.add(id) // from here on nginx may serve it
    const source = makeWorkspace({ 'public/index.html': indexHtml(id), 'public/version.txt': versionTxt(id) })
    try {
      const run = await runAction({ ...base, 'release-id': id, source, ...(hook ? { 'before-activate': hook } : {}) })
      check(run, id)
      deployed.push(id)
      return run
    } finally {
      fs.rmSync(source, { recursive: true, force: true })
    }
  }
  const rollback = async (to?: string): Promise<void> => {
    phase = `rollback from ${current}${to ? ` to ${to}` : ''}`
    let expected = to
    if (!expected) {
      const candidates = activated.filter((id) => id !== current && !bad.has(id))
      expected = candidates[candidates.length - 1]
      bad.add(current)
    }
    check(await runAction(to ? { ...base, mode: 'rollback', 'release-id': to } : { ...base, mode: 'rollback' }), expected)
    bad.delete(expected)
  }

  const firstStarted = Date.now()
  const first = await deploy(RELEASES[0], probe?.hook)
  const unloaded = Date.now() - firstStarted
  probe?.check(first)
  expect(await fetchOnce(nginx.port, '/version.txt')).toBe(`200 ${versionTxt(RELEASES[0])}`)

  let switches = 0
  const started = Date.now()
  const load = startLoad(nginx.port, allowed, () => phase)
  let report: LoadReport
  try {
    for (const step of PLAN) {
      if (load.ended()) break // the load hit a bound: the rest would prove nothing
      const words = step.split(' ') // 'deploy <id>', 'rollback' or 'rollback to <id>'
      if (words[0] === 'deploy') await deploy(words[1])
      else await rollback(words[2])
      switches++
    }
  } finally {
    phase = 'cool-down'
    report = await load.stop()
  }
  console.log(describeLoad(label, report))
  console.log(
    `[${label}] ${switches} switches through dist/index.js in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(the first deploy, before the load: ${(unloaded / 1000).toFixed(1)} s)`
  )
  if (!load.ended()) expect(deployed).toEqual(RELEASES)
  // nginx really serves the deploy root: it shows the release current now.
  expect(await fetchOnce(nginx.port, '/version.txt')).toBe(`200 ${versionTxt(current)}`)
  return { report, switches }
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
      const load = startLoad(nginx.port, new Set(ids), () => phase)
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
      const { report, switches } = await deployUnderLoad('stock', stock!.server, stock!.nginx)
      expectZeroDowntime('stock', report, switches)
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
      const { report, switches } = await deployUnderLoad('busybox', server, nginx, { hook, check })
      expectZeroDowntime('busybox', report, switches)
    },
    SCENARIO_TIMEOUT_MS
  )
})
