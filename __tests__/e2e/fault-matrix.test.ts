/**
 * The fault matrix end to end: real sshd hosts, the committed bundle. The
 * cases are made from the deploy's steps (their banners read from the remote
 * script's sources, so a renamed step fails here rather than passing
 * untested) crossed with the faults: the SSH connection dropped (the
 * session's sshd, as the lock's owner file names it, is killed), the remote
 * script killed (its process group), and the runner SIGKILLed. One host and
 * three hosts (the fault on the second). After each: every host's `current`
 * is a complete release and `shared/` is unchanged; a runner that lived
 * failed naming host and step (or finished), its `results` state each host's
 * real current, and every lock is free; a killed runner's post step
 * reconnects and cleans up, or the next deploy takes over its stale lock.
 * The fast matrix (fake connections, every script) is __tests__/unit/fleet.test.ts.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { ActionRun, makeWorkspace, runAction } from './run-action'
import { parseObjects } from '../support/json'
import { treeSnapshot } from '../support/tree'
import { SHELL_SOURCES } from '../../src/remote/shell-sources.generated'

type Expect = typeof expect

const top = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-matrix-'))
fs.chmodSync(top, 0o755)
const ROOT = path.join(top, 'srv')
let fleet: TestServer[] = []
const started = Date.now()
/** Faults (other than killing the runner) that struck a live process. */
let landed = 0
/** Cases where the next deploy took over a stale lock. */
let stale = 0

beforeAll(async () => {
  fleet = await Promise.all([1, 2, 3].map(() => startSshd({ privateRootAt: ROOT })))
})
afterAll(async () => {
  const struckFrom = CASES.filter((c) => c.fault !== 'kill-runner').length
  console.log(
    `fault matrix end to end: ${CASES.length} cases (${FAULTS.length} faults x ${STEPS.length} steps, 1 and 3 hosts), ${landed} of ${struckFrom} server-side faults struck a live process, ${stale} stale locks taken over, in ${((Date.now() - started) / 1000).toFixed(1)} s`
  )
  await Promise.all(fleet.map((s) => s.stop()))
  fs.rmSync(top, { recursive: true, force: true })
})

/** The banner a step prints (`step <name> '<banner>'` in the remote sources). */
function bannerOf(step: string): string {
  for (const source of Object.values(SHELL_SOURCES)) {
    const match = new RegExp(`^\\s*step ${step} '([^']+)'`, 'm').exec(source)
    if (match) return match[1]
  }
  throw new Error(`no step ${step} in the remote sources`)
}

/** The steps a fault strikes, with what keeps the script inside the step (a hook that takes a while). */
interface Step {
  name: string
  inputs: Record<string, string>
  /** Where the step's host ends up after a fault, when the runner lives: `base` (never switched or switched back) or either. */
  endsOn: 'base' | 'either'
  /** The fault certainly lands inside the step (a hook holds it there), so the failure names it. */
  inside: boolean
}
const STEPS: Step[] = [
  { name: 'before-activate', inputs: { 'before-activate': 'sleep 3' }, endsOn: 'base', inside: true },
  // The switch and the prune are quick: the fault lands in them or just after; either way the rules hold.
  { name: 'switch', inputs: {}, endsOn: 'either', inside: false },
  { name: 'after-activate', inputs: { 'after-activate': 'sleep 3' }, endsOn: 'base', inside: true },
  { name: 'prune', inputs: { 'after-activate': 'true' }, endsOn: 'either', inside: false }
]
type Fault = 'drop' | 'kill-script' | 'kill-runner'
const FAULTS: Fault[] = ['drop', 'kill-script', 'kill-runner']

interface Case {
  step: Step
  fault: Fault
  hosts: number
}
// Every fault at every step on one host; on three hosts, every step dropped and one each of the others.
const CASES: Case[] = [
  ...STEPS.flatMap((step) => FAULTS.map((fault) => ({ step, fault, hosts: 1 }))),
  ...STEPS.map((step): Case => ({ step, fault: 'drop', hosts: 3 })),
  { step: STEPS[2], fault: 'kill-script', hosts: 3 },
  { step: STEPS[2], fault: 'kill-runner', hosts: 3 }
]

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const hostName = (s: TestServer): string => `${s.username}@127.0.0.1:${s.port}`
const onHost = (server: TestServer, site: string, ...rest: string[]) => path.join(server.backing, site, ...rest)
const currentOn = (server: TestServer, site: string): string => fs.readlinkSync(onHost(server, site, 'current')).replace(/^releases\//, '')
const lockOn = (server: TestServer, site: string): string => onHost(server, site, '.atomic-deploy/lock')
const workspaceFor = (id: string) => makeWorkspace({ 'index.html': `release ${id}`, 'storage/seed.txt': 'seeded' })

function inputsFor(servers: TestServer[], site: string): Record<string, string> {
  return {
    host: servers.map((s) => `${s.host}:${s.port}`).join('\n'),
    username: servers[0].username,
    'ssh-key': servers[0].userKey,
    'known-hosts': servers.map((s) => s.knownHosts).join(''),
    path: path.join(ROOT, site),
    shared: 'storage/'
  }
}

const isAlive = (pid: number | undefined): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/**
 * The fault, struck from outside as the step's banner appears for `target`:
 * the lock's owner file names the running script's process group and its
 * connection's sshd (a script rewrites it as it checks the lock, just before
 * or after its banner). Resolves whether it struck: a quick step (switch,
 * prune) may have ended before its script could be killed; a dropped
 * connection always lands, in the step or right after it.
 */
async function strike(fault: Exclude<Fault, 'kill-runner'>, target: TestServer, site: string): Promise<boolean> {
  const ownerFile = path.join(lockOn(target, site), 'owner')
  for (let i = 0; i < 100; i++) {
    let owner: { pid?: number; pgid?: number; sshd?: number } = {}
    try {
      owner = JSON.parse(fs.readFileSync(ownerFile, 'utf8')) as typeof owner
    } catch {
      owner = {}
    }
    const victim = fault === 'drop' ? owner.sshd : owner.pid
    if (isAlive(victim)) {
      try {
        if (fault === 'drop') process.kill(victim!, 'SIGKILL')
        else process.kill(-owner.pgid!, 'SIGKILL')
        return true
      } catch {
        return false
      }
    }
    await sleep(20)
  }
  return false
}

/** Every host on a complete release, shared/ as it was; returns each host's current. */
function expectWhole(e: Expect, servers: TestServer[], site: string, sharedBefore: string[][]): string[] {
  return servers.map((server, i) => {
    const id = currentOn(server, site)
    e(fs.readFileSync(onHost(server, site, 'current/index.html'), 'utf8'), `${hostName(server)} serves ${id} whole`).toBe(`release ${id}`)
    e(treeSnapshot(onHost(server, site, 'shared'), { owners: true }), `${hostName(server)}: shared/ unchanged`).toEqual(sharedBefore[i])
    return id
  })
}

async function runCase(e: Expect, c: Case, index: number): Promise<void> {
  const servers = fleet.slice(0, c.hosts)
  const site = `m${index}-${c.step.name}-${c.fault}-${c.hosts}`
  const inputs = inputsFor(servers, site)
  const base = await runAction({ ...inputs, 'release-id': 'base', source: workspaceFor('base') })
  e(base.code, base.stdout).toBe(0)
  const sharedBefore = servers.map((s) => treeSnapshot(onHost(s, site, 'shared'), { owners: true }))
  const target = servers[c.hosts === 1 ? 0 : 1]
  const banner = bannerOf(c.step.name)
  // With one host a banner opens a log group; with several it is a line naming its host.
  const marker = c.hosts === 1 ? `::group::${banner}` : `[${hostName(target)}] -----> ${banner}`
  const faulted = { ...inputs, ...c.step.inputs, 'release-id': 'new', source: workspaceFor('new') }

  let struck: Promise<boolean> | undefined
  const run: ActionRun =
    c.fault === 'kill-runner'
      ? await runAction(faulted, { killOn: { text: marker, signal: 'SIGKILL' } })
      : await runAction(faulted, {
          onOutput: (soFar) => {
            if (!struck && soFar.includes(marker)) struck = strike(c.fault as Exclude<Fault, 'kill-runner'>, target, site)
          }
        })
  const log = `${run.stdout}\n${run.stderr}`
  e(log, 'the step was reached').toContain(marker)
  if (c.fault === 'kill-runner') {
    e(run.code).toBe(null)
    expectWhole(e, servers, site, sharedBefore)
    const pending = run.state['pending-cleanup']
    // After the hook steps the post step runs; after the quick steps it does not, so the next deploy meets what was left.
    if (pending && c.step.inside) {
      // The post step, as the runner runs it after a cancelled job: it reconnects and cleans up.
      const post = await runAction(faulted, { state: run.state })
      e(post.code, post.stdout).toBe(0)
      e(post.stdout).toContain('did not finish')
      for (const s of servers) e(fs.existsSync(lockOn(s, site)), `${hostName(s)}: lock freed by the post step`).toBe(false)
    }
  } else {
    const hit = await struck
    if (hit) landed++
    if (c.fault === 'drop' || c.step.inside) e(hit, 'the fault was struck').toBe(true)
    const now = expectWhole(e, servers, site, sharedBefore)
    const results = parseObjects(run.outputs.results, 'results')
    e(results.map((r) => r.host)).toEqual(servers.map(hostName))
    // The results state each host's real current, and every lock is free: the runner reconnected.
    e(results.map((r) => r.releaseId)).toEqual(now)
    for (const s of servers) e(fs.existsSync(lockOn(s, site)), `${hostName(s)}: lock freed`).toBe(false)
    if (run.code !== 0) {
      e(run.code).toBe(1)
      e(log).toMatch(new RegExp(`::error::.*${hostName(target).replace(/[.]/g, '\\.')}.*step`))
    }
    if (c.step.inside) {
      e(run.code, log).toBe(1)
      e(log).toMatch(new RegExp(`::error::.*during step ${c.step.name}`))
    }
    if (c.step.endsOn === 'base') {
      e(now).toEqual(servers.map(() => 'base'))
      if (c.step.name === 'after-activate') e(results.map((r) => r.status)).toEqual(servers.map(() => 'reverted'))
    } else {
      // All hosts end on one release: the new one, deployed, or the old one, every host switched back.
      e(new Set(now).size, `one release on every host: ${now.join(', ')}`).toBe(1)
      // (The host whose own switch failed says failed; its releaseId, checked above, is still its real current.)
      for (const r of results) e(now[0] === 'new' ? ['deployed'] : ['reverted', 'not-switched', 'failed'], `${String(r.host)}: ${String(r.status)}`).toContain(r.status)
    }
  }
  // The next deploy succeeds, taking over a lock the killed runner may have left.
  // A killed runner's last script may still be ending on the server (and freeing the lock itself): give it a moment.
  if (c.fault === 'kill-runner') await sleep(2000)
  const leftLock = servers.some((s) => fs.existsSync(lockOn(s, site)))
  const next = await runAction({ ...inputs, 'release-id': 'next', source: workspaceFor('next'), 'lock-timeout': '15' })
  e(next.code, next.stdout).toBe(0)
  if (leftLock) {
    e(c.fault, 'only a killed runner leaves a lock').toBe('kill-runner')
    e(next.stdout).toContain('the lock was stale')
    stale++
  }
  e(expectWhole(e, servers, site, sharedBefore)).toEqual(servers.map(() => 'next'))
  for (const s of servers) e(fs.existsSync(lockOn(s, site))).toBe(false)
}

describe.concurrent('the fault matrix: every host ends on a reported, complete release', () => {
  it.for(CASES.map((c, i) => ({ c, i, name: `${c.fault} at ${c.step.name}, ${c.hosts === 1 ? '1 host' : '3 hosts'}` })))('$name', async ({ c, i }, { expect: e }) => {
    await runCase(e, c, i)
  })
})
