/**
 * A fake server and connection for the fleet state machine's unit tests.
 *
 * The fake answers each remote script by its phase (phaseOf) the way the
 * real script would (the same `@@key value` result lines, the same exit
 * behaviour), keeps a small model of the server (current, releases, bad
 * releases, the lock) updated from what it ran, and can be told to fail a
 * script. Tests assert on what the state machine decided (results, messages,
 * which scripts it sent) against this model, never on the fake's answers.
 */
import { Readable } from 'stream'
import { Connection, RunOptions } from '../../src/ssh/connection'
import { ScriptResult } from '../../src/ssh/protocol'
import { phaseOf } from '../../src/remote/scripts'
import { EXIT } from '../../src/remote/exit-codes'

/**
 * How a script goes wrong:
 * - exit: fails at its first step, non-zero, with @@step and @@error; changes nothing but what the script's exit handler undoes;
 * - exit-after: does its work (prints its result lines), then fails before `finished`;
 * - drop: the connection is lost as the script starts (code null); later scripts on it are rejected;
 * - drop-after: the script does its work on the server, the connection is lost before any answer arrives;
 * - dead: the connection is already gone: this and every later run rejects, nothing runs;
 * - killed: the script is killed (SIGKILL) as it starts, so its exit handler does not run; the connection lives on.
 *
 * A connection that was lost stays lost; `reconnect` opens another to the same server.
 */
export type FaultKind = 'exit' | 'exit-after' | 'drop' | 'drop-after' | 'dead' | 'killed'
export const FAULT_KINDS: FaultKind[] = ['exit', 'exit-after', 'drop', 'drop-after', 'dead', 'killed']

/** Where a fault strikes: the first script of a phase, or the nth script (1-based) sent to this host. */
export interface Fault {
  kind: FaultKind
  phase?: string
  nth?: number
}

/** The server's state as the fake knows it. */
export class FakeServer {
  /** Releases on disk, oldest first. */
  releases: string[]
  /** Releases the log marks bad (failed, reverted, marked-bad). */
  readonly bad = new Set<string>()
  /** This run's lock is held. */
  lock = false
  /** Another run holds the lock (it took over this run's after its connection was lost). */
  otherLock = false
  /** Every value current has had, the initial one first. */
  readonly history: string[]

  constructor(
    public current: string,
    releases: string[] = current ? [current] : [],
    readonly keep = 5
  ) {
    this.releases = [...releases]
    this.history = [current]
  }

  setCurrent(id: string): void {
    this.current = id
    this.history.push(id)
  }

  /** The real prune: keep current and the newest good releases, up to keep in all. */
  prune(): string[] {
    const kept = new Set([this.current])
    for (const id of [...this.releases].reverse()) {
      if (kept.size >= this.keep) break
      if (!this.bad.has(id)) kept.add(id)
    }
    const pruned = this.releases.filter((id) => !kept.has(id))
    this.releases = this.releases.filter((id) => kept.has(id))
    return pruned
  }
}

/** One script the fake was sent, and how it was answered. */
export interface SentScript {
  phase: string
  /** 1-based position among the scripts this host was sent. */
  nth: number
  /** Order among the scripts every fake of the test was sent (pass the same counter to each). */
  seq: number
  releaseId: string
  /** revert: the release the script was told to switch back to. */
  revertTo?: string
  answer: 'ok' | FaultKind | 'refused'
  /** The answer was a code null or a rejection. */
  lost: boolean
}

export interface FakeHostOptions {
  faults?: Fault[]
  /** setImmediate hops before each answer, so hosts finish in a chosen order. */
  latency?: number
  /** Shared between the fakes of one test, for `seq`. */
  counter?: { next: number }
}

/** Phases that need this run's lock, and fail with the lock-lost code without it. */
const NEEDS_LOCK = new Set(['switch', 'switch-and-finish', 'after-activate', 'revert', 'mark-bad', 'finish'])
/** Phases whose exit handler frees the lock on every exit. */
const FREES_LOCK = new Set(['revert', 'finish', 'abort', 'rollback'])

/** The step a failing script names, and its exit code, per phase. */
const FAILURE: Record<string, { step: string; code: number }> = {
  inspect: { step: 'inspect', code: 1 },
  prepare: { step: 'before-activate', code: EXIT.beforeActivate },
  switch: { step: 'switch', code: EXIT.switch },
  'switch-and-finish': { step: 'switch', code: EXIT.switch },
  'after-activate': { step: 'after-activate', code: EXIT.afterActivate },
  health: { step: 'health', code: EXIT.unhealthy },
  revert: { step: 'revert', code: EXIT.switch },
  'mark-bad': { step: 'mark-bad', code: EXIT.lockLost },
  finish: { step: 'prune', code: EXIT.lockLost },
  abort: { step: 'abort', code: 1 },
  recover: { step: 'recover', code: EXIT.path },
  rollback: { step: 'switch', code: EXIT.switch },
  list: { step: 'list', code: 1 }
}

/** What the connections of one host share: the scripts sent over any of them, the faults not struck yet, and the connections. */
interface HostRecord {
  sent: SentScript[]
  faults: Fault[]
  connections: FakeHost[]
}

export class FakeHost implements Connection {
  /** Every script sent to this host, over this connection or any other to it. */
  readonly sent: SentScript[]
  /** Every connection opened to this host, this one included, in order. */
  readonly connections: FakeHost[]
  /** Scripts whose answer has not been given yet. */
  pending = 0
  closes = 0
  closedWhilePending = false
  ranAfterClose = false
  /** The connection was lost (drop, drop-after or dead). */
  dead = false
  private readonly faults: Fault[]
  private readonly counter: { next: number }

  constructor(
    readonly name: string,
    readonly server: FakeServer,
    private readonly options: FakeHostOptions = {},
    record: HostRecord = { sent: [], faults: [...(options.faults ?? [])], connections: [] }
  ) {
    this.sent = record.sent
    this.faults = record.faults
    this.connections = record.connections
    this.connections.push(this)
    this.counter = options.counter ?? { next: 0 }
  }

  /** A new connection to the same server, as a reconnect opens; the scripts sent and the faults left carry over. */
  reconnect(): FakeHost {
    return new FakeHost(this.name, this.server, this.options, { sent: this.sent, faults: this.faults, connections: this.connections })
  }

  /** The phases this host was sent, in order. */
  get phases(): string[] {
    return this.sent.map((s) => s.phase)
  }

  async run(script: string, options: RunOptions = {}): Promise<ScriptResult> {
    const phase = phaseOf(script) ?? 'unknown'
    const entry: SentScript = {
      phase,
      nth: this.sent.length + 1,
      seq: ++this.counter.next,
      releaseId: releaseIdOf(script),
      ...(phase === 'revert' ? { revertTo: assignedValue(script, 'REVERT_TO') } : {}),
      answer: 'ok',
      lost: false
    }
    this.sent.push(entry)
    if (this.closes > 0) {
      this.ranAfterClose = true
      entry.answer = 'refused'
      entry.lost = true
      throw new Error(`${this.name}: run after close`)
    }
    this.pending++
    try {
      const stdinDone = drain(options.stdin)
      await this.wait()
      const fault = this.dead ? ({ kind: 'dead' } as Fault) : this.takeFault(entry)
      if (fault) entry.answer = fault.kind
      if (fault?.kind === 'dead') {
        this.dead = true
        entry.lost = true
        throw new Error(`${this.name}: Not connected`)
      }
      const early = fault?.kind === 'exit' || fault?.kind === 'drop' || fault?.kind === 'killed'
      const lines = early ? this.failEarly(phase, entry) : this.withListing(script, this.apply(phase, entry))
      if (!fault) {
        if (phase === 'prepare') await stdinDone
        if (lines.failed) return this.finishWith(lines, entry, false)
        return { code: 0, results: [...lines.results, ['finished', phase]], stdout: '', stderr: '' }
      }
      if (fault.kind === 'killed') {
        entry.lost = true
        return { code: null, signal: 'KILL', results: lines.results, stdout: '', stderr: '' }
      }
      // A script that did its work and then lost its connection had exited well on the server.
      if (fault.kind !== 'drop-after') this.onFailedExit(phase, entry)
      if (fault.kind === 'drop' || fault.kind === 'drop-after') {
        this.dead = true
        entry.lost = true
        return { code: null, signal: null, results: fault.kind === 'drop' ? lines.results : [], stdout: '', stderr: '' }
      }
      const failure = FAILURE[phase] ?? { step: phase, code: 1 }
      return this.finishWith({ results: [...lines.results, ['step', failure.step], ['error', `${phase} failed (injected)`]], code: failure.code }, entry, true)
    } finally {
      this.pending--
    }
  }

  close(): void {
    if (this.pending > 0) this.closedWhilePending = true
    this.closes++
  }

  private finishWith(lines: Answer, entry: SentScript, failed: boolean): ScriptResult {
    if (failed && entry.answer === 'ok') entry.answer = 'exit'
    return { code: lines.code ?? 1, results: lines.results, stdout: '', stderr: '' }
  }

  private takeFault(entry: SentScript): Fault | undefined {
    const index = this.faults.findIndex((f) => (f.nth !== undefined ? f.nth === entry.nth : f.phase === entry.phase))
    return index < 0 ? undefined : this.faults.splice(index, 1)[0]
  }

  private async wait(): Promise<void> {
    for (let i = 0; i < (this.options.latency ?? 0); i++) await new Promise((resolve) => setImmediate(resolve))
  }

  /** What a script that fails at its first step printed before failing (prepare has read the previous release by then). */
  private failEarly(phase: string, entry: SentScript): Answer {
    if (phase === 'prepare' && !this.server.lock) {
      this.server.lock = true
      this.server.releases.push(entry.releaseId)
      return { results: [['previous', this.server.current]] }
    }
    if (phase === 'rollback' && !this.server.lock) {
      this.server.lock = true
      return { results: [['previous', this.server.current]] }
    }
    return { results: [] }
  }

  /** The script's work on the server, and the result lines it prints for it. */
  private apply(phase: string, entry: SentScript): Answer {
    const s = this.server
    const id = entry.releaseId
    if (NEEDS_LOCK.has(phase) && !s.lock) {
      return {
        failed: true,
        code: EXIT.lockLost,
        results: [
          ['step', 'lock'],
          ['error', 'this run does not hold the deploy lock']
        ]
      }
    }
    switch (phase) {
      case 'inspect':
        return { results: [['cache-miss', 'there is no upload cache yet']] }
      case 'prepare':
        if (s.lock)
          return {
            failed: true,
            code: EXIT.locked,
            results: [
              ['step', 'lock'],
              ['error', 'the lock is held']
            ]
          }
        s.lock = true
        s.releases.push(id)
        return { results: [['previous', s.current]] }
      case 'switch':
      case 'switch-and-finish': {
        const previous = s.current
        if (!s.releases.includes(id))
          return {
            failed: true,
            code: EXIT.switch,
            results: [
              ['previous', previous],
              ['error', `the prepared release ${id} is missing`]
            ]
          }
        s.setCurrent(id)
        const results: Array<[string, string]> = [
          ['previous', previous],
          ['switched', id],
          ['current', id]
        ]
        // The one-round-trip form also prunes, and frees the lock once it succeeded.
        if (phase === 'switch-and-finish') {
          results.push(['pruned', s.prune().join(' ')])
          s.lock = false
        }
        return { results }
      }
      case 'after-activate':
      case 'mark-bad':
        if (phase === 'mark-bad') s.bad.add(id)
        return { results: [] }
      case 'revert': {
        const to = entry.revertTo ?? ''
        s.bad.add(id)
        if (to && s.releases.includes(to)) {
          if (s.current !== to) s.setCurrent(to)
        }
        s.lock = false
        return { results: [['current', s.current]] }
      }
      case 'finish': {
        const pruned = s.prune()
        s.lock = false
        return { results: [['pruned', pruned.join(' ')]] }
      }
      case 'abort':
        if (s.lock) {
          if (s.current !== id) {
            s.releases = s.releases.filter((r) => r !== id)
            s.bad.add(id)
          }
          s.lock = false
        }
        return { results: [] }
      case 'rollback': {
        // To release-id when given, else the newest good release other than current.
        const target = id || [...s.releases].reverse().find((r) => r !== s.current && !s.bad.has(r))
        if (s.lock)
          return {
            failed: true,
            code: EXIT.locked,
            results: [
              ['step', 'lock'],
              ['error', 'the lock is held']
            ]
          }
        if (!target)
          return {
            failed: true,
            code: EXIT.noRollbackTarget,
            results: [
              ['step', 'target'],
              ['error', 'no earlier good release']
            ]
          }
        const previous = s.current
        s.bad.add(previous)
        s.setCurrent(target)
        return {
          results: [
            ['previous', previous],
            ['current', target]
          ]
        }
      }
      case 'recover':
        // The lost script's lock, or the lock taken again when that script had freed it; never another run's.
        s.lock = !s.otherLock
        return {
          results: [['lock', s.otherLock ? 'other' : 'held'], ...(s.history.includes(id) ? [['switched', id] as [string, string]] : []), ['current', s.current]]
        }
      case 'list':
        return { results: [...this.listing(), ...(s.lock ? [['lock', 'this run'] as [string, string]] : [])] }
      default:
        // A phase this fake does not know yet: it succeeds and changes nothing, so the matrix still faults it.
        return { results: [] }
    }
  }

  /** The release list, as the list script (and, with LIST_RELEASES=1, finish, switch-and-finish and rollback at their end) prints it. */
  private listing(): Array<[string, string]> {
    const s = this.server
    return [
      ['current', s.current],
      ...s.releases.map((r): [string, string] => ['release', r]),
      ...s.releases.map((r): [string, string] => ['log', JSON.stringify({ event: s.bad.has(r) ? 'failed' : 'deployed', id: r })])
    ]
  }

  /** A script told LIST_RELEASES=1 that did its work ends with the release list and @@listed. */
  private withListing(script: string, lines: Answer): Answer {
    if (lines.failed || !/^LIST_RELEASES='1'$/m.test(script)) return lines
    return { ...lines, results: [...lines.results, ...this.listing(), ['listed', '1']] }
  }

  /** What the script's exit handler does when it ends without success. */
  private onFailedExit(phase: string, entry: SentScript): void {
    const s = this.server
    if (phase === 'prepare' && s.lock) {
      if (s.current !== entry.releaseId) s.releases = s.releases.filter((r) => r !== entry.releaseId)
      s.bad.add(entry.releaseId)
      s.lock = false
    }
    if (FREES_LOCK.has(phase)) s.lock = false
  }
}

interface Answer {
  results: Array<[string, string]>
  failed?: boolean
  code?: number
}

function drain(stdin: Readable | undefined): Promise<void> {
  if (!stdin) return Promise.resolve()
  return new Promise((resolve) => {
    stdin.on('end', resolve)
    stdin.on('close', resolve)
    stdin.on('error', () => resolve())
    stdin.resume()
  })
}

/** The release id the script was made for: its RELEASE_ID value. */
function releaseIdOf(script: string): string {
  return assignedValue(script, 'RELEASE_ID') ?? ''
}

/** A value the script assigns, single-quoted, near its top (`NAME='value'`). */
function assignedValue(script: string, name: string): string {
  const match = new RegExp(`^${name}='((?:[^']|'\\\\'')*)'$`, 'm').exec(script)
  if (!match) throw new Error(`the fake cannot find ${name}= in the script`)
  return match[1].replace(/'\\''/g, "'")
}
