/**
 * The fleet state machine (prepare everywhere, switch everywhere,
 * after-activate, finish; on failure put every switched host back) on fake
 * connections. The cases are generated: a deploy without faults shows which
 * scripts each host is sent; then every one of those scripts, on every host,
 * fails in every way the fake knows, and every script sent to recover from
 * that failure fails in turn. Each run is checked against invariants that
 * hold for any case (every host has a true result, messages claim only what
 * happened, the right hosts were sent the right scripts, connections are
 * closed only when idle), so a phase added later is covered without a new
 * test. End-to-end tests against real sshd are in __tests__/e2e/fleet.test.ts.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Readable } from 'stream'
import { inspect } from 'util'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { DeploySettings } from '../../src/config/settings'
import { Connector } from '../../src/ssh/connection'
import { runMode, ModeOutcome } from '../../src/core/run-mode'
import { DeployError } from '../../src/core/errors'
import { HostResult } from '../../src/core/results'
import { Reporter } from '../../src/core/reporter'
import { abortUnfinished } from '../../src/core/abort'
import { FAULT_KINDS, Fault, FaultKind, FakeHost, FakeServer } from '../support/fake-host'
import { FAKE_HEALTH, fakeDeploySettings } from '../support/fake-settings'

// Packing with the system tar is not the point here (the e2e tests pack for real); a tar process
// per host per run would make the matrix slow.
vi.mock('../../src/upload/archive', () => ({
  localCompressors: () => Promise.resolve(new Set(['none'])),
  packArchive: () => {
    const data = Buffer.alloc(10240)
    return Promise.resolve({ stream: Readable.from([data]), bytesSent: () => data.length, finished: Promise.resolve(), abort: () => undefined })
  }
}))

const counted = { runs: 0, listLost: 0, phases: new Set<string>() }
afterAll(() => {
  console.log(
    `fleet matrix: ${counted.runs} runs over ${counted.phases.size} phases (${[...counted.phases].join(', ')}); ${counted.listLost} runs deployed, then lost the release list (a warning)`
  )
})

const NEW = 'r3'
const OLD = 'r2'

const sourceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-fleet-unit-'))
fs.writeFileSync(path.join(sourceDir, 'index.html'), 'hello\n')
afterAll(() => fs.rmSync(sourceDir, { recursive: true, force: true }))

interface Config {
  hosts: number
  afterActivate: boolean
  revertOnFailure: boolean
  /** upgrade: OLD is current (and r1 before it); first: nothing deployed yet. */
  history: 'upgrade' | 'first'
  /** After a lost connection, a new one can be opened (false: every reconnect is refused). */
  reconnect?: boolean
  /** A health check after after-activate, with this rollout. */
  health?: 'together' | 'rolling'
  /** Before the reconnect, another deploy takes over the lock and switches to this release. */
  takenOverBy?: string
}

function describeConfig(c: Config): string {
  const hook = c.afterActivate ? `after-activate, revert-on-failure ${c.revertOnFailure}` : 'no after-activate'
  const reach = c.reconnect === false ? ', reconnecting refused' : ''
  const health = c.health ? `, health check (rollout ${c.health})` : ''
  return `${c.hosts === 1 ? '1 host' : `${c.hosts} hosts`}, ${hook}${health}, ${c.history === 'upgrade' ? `${OLD} current` : 'first deploy'}${reach}`
}

function settingsFor(c: Config): DeploySettings {
  return fakeDeploySettings(sourceDir, c.hosts, {
    releaseId: NEW,
    keep: 2,
    afterActivate: c.afterActivate ? 'systemctl reload app' : '',
    revertOnFailure: c.revertOnFailure,
    ...(c.health ? { health: FAKE_HEALTH, rollout: c.health, batchSize: 1 } : {})
  })
}

/** A fault placed on one host. */
interface Placed extends Fault {
  host: number
  /** The phase of the script it strikes, for names. */
  label: string
}

interface Run {
  config: Config
  faults: Placed[]
  fakes: FakeHost[]
  initial: string
  outcome?: ModeOutcome
  error?: unknown
  log: string[]
}

/** A deploy of NEW; with mode rollback, NEW is current (r1 and OLD before it) and the run rolls back. */
async function deploy(config: Config, faults: Placed[] = [], mode: 'deploy' | 'rollback' = 'deploy'): Promise<Run> {
  const counter = { next: 0 }
  const initial = mode === 'rollback' ? NEW : config.history === 'upgrade' ? OLD : ''
  const releases = mode === 'rollback' ? ['r1', OLD, NEW] : config.history === 'upgrade' ? ['r1', OLD] : []
  const fakes = Array.from(
    { length: config.hosts },
    (_, i) =>
      new FakeHost(`deploy@h${i + 1}`, new FakeServer(initial, releases, 2), {
        faults: faults.filter((f) => f.host === i),
        // Later hosts answer later, so a fast failure on one host meets work still running on the others.
        latency: 2 + 3 * i,
        counter
      })
  )
  // The first connection to a host is its fake; each later one (a reconnect) is a new connection to the same server.
  const connect: Connector = (_settings, target) => {
    const fake = fakes[Number(target.host.slice(1)) - 1]
    if (fake.closes === 0 && fake.connections.length === 1 && fake.sent.length === 0) return Promise.resolve(fake)
    if (config.reconnect === false) return Promise.reject(new Error(`connect ECONNREFUSED ${target.host}:22`))
    if (config.takenOverBy) {
      Object.assign(fake.server, { lock: false, otherLock: true })
      fake.server.releases.push(config.takenOverBy)
      fake.server.setCurrent(config.takenOverBy)
    }
    return Promise.resolve(fake.reconnect())
  }
  const log: string[] = []
  const reporter: Reporter = {
    info: (line) => log.push(line),
    warning: (line) => log.push(`warning: ${line}`),
    group: (_title, work) => work(),
    rememberCleanup: () => undefined
  }
  const run: Run = { config, faults, fakes, initial, log }
  try {
    const settings = settingsFor(config)
    run.outcome = await runMode(mode === 'rollback' ? { ...settings, mode, releaseId: '', releaseIdGiven: false } : settings, reporter, connect)
  } catch (error) {
    run.error = error
  }
  // Let anything the state machine left running finish, so the checks see it.
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve))
  return run
}

/** Which step of the deploy a failing phase belongs to; undefined: the deploy still succeeds. */
function stageOf(phase: string): string | undefined {
  if (phase === 'inspect' || phase === 'prepare') return 'prepare'
  if (phase === 'switch-and-finish') return 'switch'
  if (phase === 'finish') return undefined
  return phase
}

/**
 * The one-step switch did all its work, but its answer was lost: a reconnect finds the switch logged, so
 * only the prune is in doubt, which is cleanup, not a reason to switch back: the deploy stands.
 */
function switchedWithoutAnswer(run: Run, f: Placed): boolean {
  const fake = run.fakes[f.host]
  const recovered = fake.sent.some((s) => s.phase === 'recover' && s.answer === 'ok')
  return f.label === 'switch-and-finish' && f.kind === 'drop-after' && recovered
}

/** The phases that switch current: with one host and no after-activate, the switch also prunes. */
const isSwitch = (phase: string): boolean => phase === 'switch' || phase === 'switch-and-finish'

/** The inspection before the upload only informs it: when it fails (on a connection that lives on), the deploy goes on with a full upload. */
function harmless(f: Placed): boolean {
  return f.label === 'inspect' && (f.kind === 'exit' || f.kind === 'exit-after' || f.kind === 'killed')
}

/** A script that ends without an answer (code null) may have moved current; a rejection means it never ran. */
function currentUncertain(fake: FakeHost): boolean {
  return fake.sent.some((s) => (isSwitch(s.phase) || s.phase === 'revert') && (s.answer === 'drop' || s.answer === 'drop-after' || s.answer === 'killed'))
}

/** The host's connection was lost (or a script killed) and no recover script answered after that: the run cannot know the host's state. */
function unresolved(fake: FakeHost): boolean {
  const deploy = fake.sent.filter((s) => s.phase !== 'list')
  const lastLost = deploy.map((s) => s.lost).lastIndexOf(true)
  return lastLost >= 0 && !deploy.slice(lastLost + 1).some((s) => s.phase === 'recover' && s.answer === 'ok')
}

const CLAIMS_UNKNOWN = /not known|unknown|could not be checked|cannot tell|may /i

/** Everything that must hold for any run; returns what does not. */
function problems(run: Run): string[] {
  const out: string[] = []
  const bad = (text: string): void => void out.push(text)
  const { fakes, error, outcome, config, initial } = run
  const first = run.faults.filter((f) => !harmless(f)).sort((a, b) => seqOf(run, a) - seqOf(run, b))[0]
  const stage = first && (switchedWithoutAnswer(run, first) ? undefined : stageOf(first.label))

  if (error !== undefined && !(error instanceof DeployError)) return [`threw ${error instanceof Error ? String(error) : inspect(error)} instead of a DeployError`]
  // runMode lists the releases on the first host after the deploy; when that connection died in the
  // finish, the deploy still stands (the list is only a warning then): counted, to show the case is met.
  const last = fakes[0].sent[fakes[0].sent.length - 1]
  if (outcome && last?.phase === 'list' && last.lost) counted.listLost++
  const results: HostResult[] = error instanceof DeployError ? error.results : (outcome?.results ?? [])
  if (results.length !== fakes.length) bad(`${results.length} results for ${fakes.length} hosts`)

  // The outcome as a whole.
  if (stage === undefined && error) bad(`failed (${(error as Error).message}) though ${first ? `only ${first.label} failed` : 'nothing failed'}`)
  if (stage !== undefined && !error) bad(`succeeded though ${first.label} failed on host ${first.host + 1}`)
  if (error instanceof DeployError && error.step !== stage) bad(`DeployError step ${error.step}, expected ${stage}`)

  fakes.forEach((fake, i) => {
    const r = results[i]
    const s = fake.server
    const at = `${fake.name}:`
    const sent = fake.phases
    // Connections: each closed once, and only when nothing runs on it.
    fake.connections.forEach((c, n) => {
      const which = `${at} connection ${n + 1}`
      if (c.closes !== 1) bad(`${which} closed ${c.closes} times`)
      if (c.closedWhilePending) bad(`${which} closed while a script was still running on it`)
      if (c.ranAfterClose) bad(`${which} sent a script after it was closed`)
      if (c.pending > 0) bad(`${which} a script still running after the run ended`)
    })
    if (config.reconnect === false && fake.sent.some((x) => x.phase === 'recover' && x.answer === 'ok') && !fake.sent.some((x) => x.answer === 'killed'))
      bad(`${at} recovered though reconnecting was refused`)
    const gone = unresolved(fake)
    if (!r) return
    if (r.host !== fake.name) bad(`${at} result ${i} is for ${r.host}`)
    if (!['deployed', 'failed', 'not-switched', 'reverted', 'unhealthy', 'bad'].includes(r.status)) bad(`${at} status ${r.status}`)
    if (r.status !== 'deployed' && !r.error) bad(`${at} ${r.status} without an error saying why`)
    if (r.status === 'deployed' && r.error) bad(`${at} deployed, with an error: ${r.error}`)
    if (r.previousReleaseId !== initial && !(r.previousReleaseId === '' && !sent.some(isSwitch))) bad(`${at} previousReleaseId ${r.previousReleaseId}, was ${initial}`)

    // The result tells the truth about the server, or says it cannot know.
    const uncertain = currentUncertain(fake) && gone
    if (uncertain && r.status !== 'failed') bad(`${at} ${r.status} though the connection dropped during a switch`)
    if (uncertain && !CLAIMS_UNKNOWN.test(r.error ?? '')) bad(`${at} the connection dropped during a switch, but the error does not say current is unknown: ${r.error}`)
    // A host that failed before prepare said what was current, and was never switched, may give '' and say "unchanged".
    const unchanged = r.releaseId === '' && !sent.some(isSwitch) && (fakes.length === 1 || (error as Error)?.message.includes(`  ${r.host}: ${r.status}, current unchanged`))
    if (!uncertain && r.releaseId !== s.current && !unchanged) bad(`${at} result says current ${r.releaseId || '(none)'}, the server has ${s.current || '(none)'}`)
    if (r.status === 'deployed' && (s.current !== NEW || s.bad.has(NEW))) bad(`${at} deployed, but current ${s.current}${s.bad.has(NEW) ? ', marked bad' : ''}`)
    if (r.status === 'reverted' && (s.current === NEW || !s.bad.has(NEW))) bad(`${at} reverted, but current ${s.current}, ${NEW} ${s.bad.has(NEW) ? 'bad' : 'not marked bad'}`)
    // unhealthy: failed its check; with revert-on-failure and an earlier release, switched back.
    if (r.status === 'unhealthy' && (!s.bad.has(NEW) || (config.revertOnFailure && initial !== '' && s.current === NEW)))
      bad(`${at} unhealthy, but current ${s.current}, ${NEW} ${s.bad.has(NEW) ? 'bad' : 'not marked bad'}`)
    if (r.status === 'unhealthy' && !run.faults.some((f) => f.host === i && f.label === 'health')) bad(`${at} unhealthy, though its health check did not fail`)
    if (r.status === 'not-switched' && s.history.includes(NEW)) bad(`${at} not-switched, but current was ${NEW} at some point`)
    if (r.status === 'bad' && (s.current !== NEW || (!s.bad.has(NEW) && !/not be marked bad|not marked bad/.test(r.error ?? ''))))
      bad(`${at} bad, but current ${s.current}, ${NEW} ${s.bad.has(NEW) ? 'bad' : 'not marked bad'}`)
    // Where the connection lives, the run cleans up after itself.
    if (!gone && s.lock) bad(`${at} the lock is still held`)
    if (!gone && !s.history.includes(NEW) && s.releases.includes(NEW) && !/Undoing the prepared release failed/.test(r.error ?? ''))
      bad(`${at} the unused release ${NEW} was left on the server, and the error does not say so`)
    if (gone && s.lock && !/unlock/.test(r.error ?? '') && r.status !== 'deployed') bad(`${at} the lock may still be held, but the error does not say how to free it: ${r.error}`)

    // What the state machine decided to send.
    const switchedOk = fake.sent.some((x) => isSwitch(x.phase) && !x.lost && s.history.includes(NEW))
    if (stage === 'prepare' && sent.some(isSwitch)) bad(`${at} was sent switch though ${first.label} failed on host ${first.host + 1}`)
    if (stage === 'prepare' && fake.sent.some((x) => x.phase === 'prepare' && x.answer === 'ok') && !sent.includes('abort')) bad(`${at} prepared, but was not sent abort`)
    if (stage === 'switch' && (sent.includes('after-activate') || sent.includes('finish'))) bad(`${at} was sent ${sent.join(', ')} after a failed switch`)
    if ((stage === 'switch' || ((stage === 'after-activate' || stage === 'health') && config.revertOnFailure)) && switchedOk && !gone && !sent.includes('revert'))
      bad(`${at} had switched, but was not sent revert (${sent.join(', ')})`)
    if ((stage === 'after-activate' || stage === 'health') && config.revertOnFailure && sent.includes('finish')) bad(`${at} was sent finish though every host is being reverted`)
    if (stage === 'after-activate' && !config.revertOnFailure) {
      const failedHere = first.host === i || run.faults.some((f) => f.host === i && f.label === 'after-activate')
      if (failedHere && !sent.includes('mark-bad') && !gone) bad(`${at} after-activate failed, but it was not sent mark-bad`)
      if (!failedHere && r.status !== 'deployed' && !gone) bad(`${at} ${r.status}, though only another host's after-activate failed and revert-on-failure is false`)
      if (!sent.includes('finish') && !gone) bad(`${at} was not sent finish (revert-on-failure false)`)
    }
    if (stage !== 'prepare' && !first) {
      const expected = [
        'inspect',
        'prepare',
        oneStep(config) ? 'switch-and-finish' : 'switch',
        ...(oneStep(config) ? [] : [...(config.afterActivate ? ['after-activate'] : []), ...(config.health ? ['health'] : []), 'finish'])
      ]
      const deployScripts = sent.filter((p) => p !== 'list')
      if (deployScripts.join() !== expected.join()) bad(`${at} was sent ${deployScripts.join(', ')}, expected ${expected.join(', ')}`)
    }
  })

  // The message claims only what happened.
  if (error instanceof DeployError) {
    const message = error.message
    const everNew = fakes.filter((f) => f.server.history.includes(NEW))
    const nowNew = fakes.filter((f) => f.server.current === NEW)
    if (/nothing was switched/.test(message) && everNew.length) bad(`message says nothing was switched, but ${everNew.map((f) => f.name).join(', ')} switched: ${message}`)
    if (/every host that had switched was switched back/.test(message) && nowNew.length)
      bad(`message says every switched host was switched back, but ${nowNew.map((f) => f.name).join(', ')} are on ${NEW}: ${message}`)
    if (/switched back to/.test(message) && !fakes.some((f, i) => f.server.current !== NEW && ['reverted', 'unhealthy'].includes(results[i]?.status ?? '')))
      bad(`message says switched back, no host was: ${message}`)
    if (/stays current/.test(message) && !nowNew.length) bad(`message says ${NEW} stays current, no host has it: ${message}`)
    if (/marked \S+ bad/.test(message) && !fakes.some((f) => f.server.bad.has(NEW))) bad(`message says marked bad, no host marked it: ${message}`)
    if (fakes.length > 1) {
      results.forEach((r) => {
        if (!message.includes(`  ${r.host}: ${r.status}`)) bad(`message has no line "${r.host}: ${r.status}": ${message}`)
      })
    }
  } else if (outcome) {
    results.forEach((r) => r.status !== 'deployed' && bad(`${r.host}: ${r.status} in a successful deploy`))
    if (outcome.deploy?.releaseId !== NEW) bad(`outcome release ${outcome.deploy?.releaseId}`)
  }
  return out
}

function oneStep(config: Config): boolean {
  return config.hosts === 1 && !config.afterActivate
}

function seqOf(run: Run, fault: Placed): number {
  return run.fakes[fault.host].sent.find((s) => s.nth === fault.nth)?.seq ?? Infinity
}

function describeFault(f: Placed): string {
  return `host ${f.host + 1} script ${f.nth} (${f.label}) ${f.kind}`
}

const CONFIGS: Config[] = [1, 3]
  .flatMap((hosts) =>
    (['upgrade', 'first'] as const).flatMap((history): Config[] => [
      { hosts, afterActivate: false, revertOnFailure: true, history },
      { hosts, afterActivate: true, revertOnFailure: true, history },
      { hosts, afterActivate: true, revertOnFailure: false, history }
    ])
  )
  .concat([
    // The health phase is faulted like every other: checked together, and batch by batch.
    { hosts: 3, afterActivate: true, revertOnFailure: true, history: 'upgrade', health: 'together' },
    { hosts: 3, afterActivate: false, revertOnFailure: true, history: 'upgrade', health: 'rolling' }
  ])

/** Every script of a run, on every host, after `since` (a seq), as a place for a fault. */
function placesIn(run: Run, since = 0): Array<Omit<Placed, 'kind'>> {
  return run.fakes.flatMap((fake, host) => fake.sent.filter((s) => s.seq > since && s.phase !== 'list').map((s) => ({ host, nth: s.nth, label: s.phase })))
}

/** Recovery scripts fail in these ways in the second round. */
const SECOND_KINDS: FaultKind[] = ['exit', 'drop', 'dead']

async function checked(config: Config, faults: Placed[], failures: Record<string, string[]>): Promise<Run> {
  const run = await deploy(config, faults)
  counted.runs++
  run.fakes.forEach((f) => f.phases.forEach((p) => counted.phases.add(p)))
  const found = problems(run)
  if (found.length) failures[faults.map(describeFault).join(', then ') || 'no faults'] = found
  return run
}

/** The kinds of fault after which the run reconnects: with reconnecting refused, these cases run again. */
const LOST_KINDS = FAULT_KINDS.filter((kind) => kind !== 'exit' && kind !== 'exit-after')

describe('the fleet state machine on fake connections', () => {
  const configs = [...CONFIGS, ...CONFIGS.map((c) => ({ ...c, reconnect: false }))]
  describe.each(configs.map((config) => ({ config, name: describeConfig(config) })))('$name', ({ config }) => {
    it('deploys to every host without faults', async () => {
      const failures: Record<string, string[]> = {}
      await checked(config, [], failures)
      expect(failures).toEqual({})
    })

    // The scripts a deploy without faults sends each host are the places faults go; then, in a
    // second round, every script sent after that fault (revert, abort, mark-bad, finish) fails too.
    it.each(config.reconnect === false ? LOST_KINDS : FAULT_KINDS)('every script of a deploy, on every host, fails with %s; then every recovery script fails too', async (kind) => {
      const failures: Record<string, string[]> = {}
      const baseline = await deploy(config)
      for (const place of placesIn(baseline)) {
        const fault: Placed = { ...place, kind }
        const run = await checked(config, [fault], failures)
        const since = run.fakes[fault.host].sent.find((s) => s.nth === fault.nth)?.seq ?? Infinity
        for (const next of placesIn(run, since)) {
          for (const secondKind of SECOND_KINDS) await checked(config, [fault, { ...next, kind: secondKind }], failures)
        }
      }
      expect(failures).toEqual({})
    })
  })
})

/** A few of the matrix's cases spelled out, as a reader would check them by hand. */
describe('examples on three hosts', () => {
  const three: Config = { hosts: 3, afterActivate: true, revertOnFailure: true, history: 'upgrade' }
  const at = (host: number, phase: string, kind: FaultKind = 'exit'): Placed => ({ host, phase, kind, label: phase })
  const statuses = (run: Run): string[] => (run.error as DeployError).results.map((r) => `${r.status} ${r.releaseId}`)

  it('one host fails to prepare: nobody switches, the others are aborted', async () => {
    const run = await deploy(three, [at(1, 'prepare')])
    expect(problems(run)).toEqual([])
    expect(run.error).toBeInstanceOf(DeployError)
    expect((run.error as DeployError).step).toBe('prepare')
    expect((run.error as Error).message).toMatch(/^Deploy failed at prepare; nothing was switched\./)
    expect(statuses(run)).toEqual([`not-switched ${OLD}`, `failed ${OLD}`, `not-switched ${OLD}`])
    expect(run.fakes.map((f) => f.phases.join(' '))).toEqual(['inspect prepare abort', 'inspect prepare abort', 'inspect prepare abort'])
  })

  it('after-activate fails on one host: every host is sent a revert and goes back', async () => {
    const run = await deploy(three, [at(2, 'after-activate')])
    expect(problems(run)).toEqual([])
    expect((run.error as Error).message).toContain(`switched back to ${OLD} and marked ${NEW} bad`)
    expect(statuses(run)).toEqual([`reverted ${OLD}`, `reverted ${OLD}`, `reverted ${OLD}`])
    expect((run.error as DeployError).results[0].error).toBe('switched back: after-activate failed on deploy@h3')
    for (const fake of run.fakes) expect(fake.phases.slice(-1)).toEqual(['revert'])
    expect(run.fakes.map((f) => f.sent.find((s) => s.phase === 'revert')?.revertTo)).toEqual([OLD, OLD, OLD])
  })

  it('after-activate fails on one host, revert-on-failure false: it is marked bad, the others finish', async () => {
    const run = await deploy({ ...three, revertOnFailure: false }, [at(0, 'after-activate')])
    expect(problems(run)).toEqual([])
    expect((run.error as Error).message).toContain(`${NEW} stays current because revert-on-failure is false`)
    expect(statuses(run)).toEqual([`bad ${NEW}`, `deployed ${NEW}`, `deployed ${NEW}`])
    expect(
      run.fakes.map((f) =>
        f.phases
          .filter((p) => p !== 'list')
          .slice(3)
          .join(' ')
      )
    ).toEqual(['after-activate mark-bad finish', 'after-activate finish', 'after-activate finish'])
  })

  it("the connection drops during one host's switch and cannot be opened again: the others go back, and that host is reported unknown", async () => {
    const run = await deploy({ ...three, reconnect: false }, [at(1, 'switch', 'drop-after')])
    expect(problems(run)).toEqual([])
    const message = (run.error as Error).message
    expect(message).toContain('deploy@h2: failed, current unknown')
    expect(message).toContain('which release is current on deploy@h2 is unknown')
    expect(message).not.toContain('every host that had switched was switched back')
    expect(message).toContain(`deploy@h2 may be on ${NEW} or on ${OLD}`)
    expect(statuses(run)).toEqual([`reverted ${OLD}`, 'failed ', `reverted ${OLD}`])
    // The server did switch before the answer was lost: the run must not have claimed otherwise.
    expect(run.fakes[1].server.current).toBe(NEW)
  })

  it("the connection drops during one host's switch: a new connection finds it switched, and it goes back with the others", async () => {
    const run = await deploy(three, [at(1, 'switch', 'drop-after')])
    expect(problems(run)).toEqual([])
    expect(statuses(run)).toEqual([`reverted ${OLD}`, `reverted ${OLD}`, `reverted ${OLD}`])
    expect(run.fakes[1].connections).toHaveLength(2)
    expect(run.fakes[1].phases.slice(2)).toEqual(['switch', 'recover', 'revert'])
    expect(run.fakes.map((f) => [f.server.current, f.server.lock, f.server.bad.has(NEW)])).toEqual([
      [OLD, false, true],
      [OLD, false, true],
      [OLD, false, true]
    ])
  })

  it('the connection drops during after-activate on one of two hosts: both go back, both locks are freed, and the message names host and step', async () => {
    const run = await deploy({ ...three, hosts: 2 }, [at(0, 'after-activate', 'drop')])
    expect(problems(run)).toEqual([])
    const message = (run.error as Error).message
    expect(message).toMatch(/^Deploy failed at after-activate; switched back to r2 and marked r3 bad\./)
    expect(message).toContain('deploy@h1: reverted, current r2 (deploy@h1: the connection was lost during step')
    expect(statuses(run)).toEqual([`reverted ${OLD}`, `reverted ${OLD}`])
    expect(run.fakes.map((f) => f.server.lock)).toEqual([false, false])
  })

  it('one host, the connection drops while pruning: the release stands, the lock is freed, and the result says deployed', async () => {
    const run = await deploy({ hosts: 1, afterActivate: false, revertOnFailure: true, history: 'upgrade' }, [at(0, 'switch-and-finish', 'drop-after')])
    expect(problems(run)).toEqual([])
    expect(run.error).toBeUndefined()
    expect(run.outcome?.results.map((r) => `${r.status} ${r.releaseId}`)).toEqual([`deployed ${NEW}`])
    // The finish sent again reports the release list, so no list script follows it.
    expect(run.fakes[0].phases.slice(2)).toEqual(['switch-and-finish', 'recover', 'finish'])
    expect(run.outcome?.releases.map((r) => r.id)).toEqual([NEW, OLD])
    expect([run.fakes[0].server.current, run.fakes[0].server.lock]).toEqual([NEW, false])
    expect(run.log.join('\n')).not.toContain('switched back')
  })

  it('the connection drops during after-activate and another deploy takes over the lock and switches before the reconnect: its lock is left alone, and the result says the real current', async () => {
    const run = await deploy({ hosts: 1, afterActivate: true, revertOnFailure: true, history: 'upgrade', takenOverBy: 'r9' }, [at(0, 'after-activate', 'drop')])
    expect([run.fakes[0].server.current, run.fakes[0].server.otherLock, run.fakes[0].server.lock]).toEqual(['r9', true, false])
    expect(statuses(run)).toEqual(['failed r9'])
    const message = (run.error as Error).message
    expect(message).not.toContain(`${NEW} is still current`)
    expect(message).toContain('current is r9 there')
    expect(message).not.toContain('nothing was switched')
    expect(message).not.toContain('.;')
  })

  it('a script killed on a live connection: the check runs over that same connection', async () => {
    const run = await deploy(three, [at(2, 'after-activate', 'killed')])
    expect(problems(run)).toEqual([])
    expect(statuses(run)).toEqual([`reverted ${OLD}`, `reverted ${OLD}`, `reverted ${OLD}`])
    expect(run.fakes[2].connections).toHaveLength(1)
    expect(run.fakes[2].phases.slice(3)).toEqual(['after-activate', 'recover', 'revert'])
  })

  it('a revert rejected on one host does not cut the others short', async () => {
    const run = await deploy({ ...three, reconnect: false }, [at(0, 'after-activate'), at(0, 'revert', 'dead')])
    expect(problems(run)).toEqual([])
    expect(statuses(run)).toEqual([`failed ${NEW}`, `reverted ${OLD}`, `reverted ${OLD}`])
    expect((run.error as DeployError).results[0].error).toContain(`${NEW} is still current there, not marked bad`)
    expect((run.error as DeployError).results[0].error).toContain('mode: unlock')
    expect(run.fakes.every((f) => f.closes === 1 && !f.closedWhilePending)).toBe(true)
  })
})

describe('abortUnfinished (the post step) through the connector', () => {
  it('aborts on every host it may have reached and closes each connection', async () => {
    const servers = [0, 1].map(() => Object.assign(new FakeServer(OLD, ['r1', OLD, NEW]), { lock: true }))
    const fakes = servers.map((server, i) => new FakeHost(`deploy@h${i + 1}`, server))
    const settings = settingsFor({ hosts: 2, afterActivate: false, revertOnFailure: true, history: 'upgrade' })
    const reporter: Reporter = { info: () => undefined, warning: () => undefined, group: (_t, work) => work(), rememberCleanup: () => undefined }
    const cleanup = { hosts: settings.targets, deployPath: '/srv/app', releaseId: NEW, lockToken: 't', logFields: '' }
    await abortUnfinished(settings, cleanup, reporter, (_s, target) => Promise.resolve(fakes[Number(target.host.slice(1)) - 1]))
    expect(fakes.map((f) => f.phases)).toEqual([['abort'], ['abort']])
    expect(fakes.map((f) => f.sent[0].releaseId)).toEqual([NEW, NEW])
    expect(servers.map((s) => [s.lock, s.releases.includes(NEW)])).toEqual([
      [false, false],
      [false, false]
    ])
    expect(fakes.map((f) => f.closes)).toEqual([1, 1])
  })
})

/** Everything that must hold for any rollback; returns what does not. */
function rollbackProblems(run: Run): string[] {
  const out: string[] = []
  const bad = (text: string): void => void out.push(text)
  const { fakes, error, outcome } = run
  if (error !== undefined && !(error instanceof DeployError)) return [`threw ${error instanceof Error ? String(error) : inspect(error)} instead of a DeployError`]
  const results: HostResult[] = error instanceof DeployError ? error.results : (outcome?.results ?? [])
  if (results.length !== fakes.length) bad(`${results.length} results for ${fakes.length} hosts`)
  const faulted = (i: number): boolean => fakes[i].sent.some((x) => x.phase === 'rollback' && x.answer !== 'ok')
  if (!error && fakes.some((_, i) => faulted(i))) bad('succeeded though a rollback failed')
  fakes.forEach((fake, i) => {
    const r = results[i]
    const s = fake.server
    const at = `${fake.name}:`
    fake.connections.forEach((c, n) => {
      if (c.closes !== 1) bad(`${at} connection ${n + 1} closed ${c.closes} times`)
      if (c.closedWhilePending) bad(`${at} connection ${n + 1} closed while a script was still running on it`)
    })
    if (!r) return
    if (r.host !== fake.name) bad(`${at} result ${i} is for ${r.host}`)
    const rolled = fake.sent.findIndex((x) => x.phase === 'rollback')
    const lost = fake.sent[rolled]?.lost
    // Where the rollback's answer was lost, a list on a new connection must have answered for the run to know current.
    const known = !lost || fake.sent.slice(rolled + 1).some((x) => x.phase === 'list' && x.answer === 'ok')
    if (r.status === 'rolled-back' && (faulted(i) || s.current !== OLD || r.releaseId !== OLD)) bad(`${at} rolled-back to ${r.releaseId}, the server has ${s.current}`)
    if (r.status === 'failed' && !r.error) bad(`${at} failed without an error saying why`)
    if (r.status === 'failed' && known && r.releaseId !== s.current && r.releaseId !== '') bad(`${at} result says current ${r.releaseId}, the server has ${s.current}`)
    if (r.status === 'failed' && lost && known && r.releaseId !== s.current)
      bad(`${at} reconnected, but the result says current ${r.releaseId || '(none)'}, the server has ${s.current}`)
    if (r.status === 'failed' && !known && !/unknown/.test(r.error ?? '')) bad(`${at} cannot know current, but the error does not say so: ${r.error}`)
    if (!['rolled-back', 'failed'].includes(r.status)) bad(`${at} status ${r.status}`)
    if (!faulted(i) && r.status !== 'rolled-back') bad(`${at} ${r.status}, though only another host failed`)
    if (s.lock && !/unlock/.test(r.error ?? '')) bad(`${at} the lock is left, and the error does not say how it is freed: ${r.error}`)
  })
  if (error instanceof DeployError && fakes.length > 1) results.forEach((r) => !error.message.includes(`  ${r.host}: ${r.status}`) && bad(`message has no line for ${r.host}`))
  return out
}

describe('rollback on fake connections', () => {
  const configs: Config[] = [1, 3].flatMap((hosts) =>
    [true, false].map((reconnect) => ({ hosts, afterActivate: false, revertOnFailure: true, history: 'upgrade' as const, reconnect }))
  )
  describe.each(configs.map((config) => ({ config, name: describeConfig(config) })))('$name', ({ config }) => {
    it('rolls every host back to the release before without faults', async () => {
      const run = await deploy(config, [], 'rollback')
      expect(rollbackProblems(run)).toEqual([])
      expect(run.outcome?.results.map((r) => `${r.status} ${r.releaseId}`)).toEqual(run.fakes.map(() => `rolled-back ${OLD}`))
    })

    it.each(config.reconnect === false ? LOST_KINDS : FAULT_KINDS)('every script of a rollback, on every host, fails with %s; then every script after it too', async (kind) => {
      const failures: Record<string, string[]> = {}
      const check = async (faults: Placed[]): Promise<Run> => {
        const run = await deploy(config, faults, 'rollback')
        counted.runs++
        run.fakes.forEach((f) => f.phases.forEach((p) => counted.phases.add(p)))
        const found = rollbackProblems(run)
        if (found.length) failures[faults.map(describeFault).join(', then ')] = found
        return run
      }
      const baseline = await deploy(config, [], 'rollback')
      for (const place of placesIn(baseline)) {
        const fault: Placed = { ...place, kind }
        const run = await check([fault])
        const since = run.fakes[fault.host].sent.find((x) => x.nth === fault.nth)?.seq ?? Infinity
        // Here the list scripts count too: after a lost rollback, a list on a new connection reads current.
        const after = run.fakes.flatMap((fake, host) => fake.sent.filter((x) => x.seq > since).map((x) => ({ host, nth: x.nth, label: x.phase })))
        for (const next of after) for (const secondKind of SECOND_KINDS) await check([fault, { ...next, kind: secondKind }])
      }
      expect(failures).toEqual({})
    })
  })
})
