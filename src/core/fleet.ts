import { DeploySettings } from '../config/settings'
import { Connection, RunOptions, ScriptRunner } from '../ssh/connection'
import { ScriptResult, lastResult } from '../ssh/protocol'
import { DeployPlan, planRelease } from '../remote/plan'
import { expectedFindLines } from '../upload/file-list'
import { abortScript, afterActivateScript, finishScript, markBadScript, phaseOf, revertScript, switchAndFinishScript, switchScript } from '../remote/scripts'
import { checkHealthOn, checksHealth } from './health'
import { describeRollout, rolloutBatches } from './rollout'
import { UploadSource, uploadAndPrepare } from './prepare'
import { Reporter } from './reporter'
import { DeployError, remoteFailure } from './errors'
import { DeployOutcome, HostResult, describeFleet } from './results'
import { hostPlan, switchesAndFinishesAtOnce } from './phases'
import { cleanupFor } from './abort'
import { SourceReading, readSource } from './source'
import { settleLimit } from './parallel'
import { HostState, ReconnectError, Reopen, reconnect } from './reconnect'
import { listingAtEnd } from './maintenance'
import { ServerListing } from './releases'

/** One host's part in a deploy; every script to the host goes through `run`, which notes what the answers tell. */
class HostDeploy implements ScriptRunner {
  readonly started = Date.now()
  previous = ''
  /** prepare reported the release that was current ('' then means none), so the run knows current here. */
  previousKnown = false
  switched = false
  /** A switch ended without an answer: whether current moved is not known. */
  switchUnknown = false
  /** The run cannot tell which release is current here (the result's releaseId is then ''). */
  currentUnknown = false
  /** A script was rejected or ended without an answer: the connection is gone (or the script was killed). */
  lost = false
  /** The last script was killed (it answered with a signal): the connection itself may still work. */
  killed = false
  /** Why the host could not be reached again after its connection was lost ('' when it was, or was not tried). */
  unreachable = ''
  /** This run may hold the lock here: prepare was sent, and no script that frees it has answered since. */
  mayHoldLock = false
  settled = false
  /** The release a reconnect found current (undefined: no reconnect yet). */
  found?: string
  /** Another run took over the lock here and current is not this run's release: the result names it. */
  movedByOther = false
  /** Why this host is still on the new release after a failure, for the summary ('' : switching back failed). */
  stuckBecause = ''
  bytesSent = 0
  /** Seconds its health check took, once one ran. */
  healthSeconds?: number
  pruned: string[] = []
  /** The release list its last script reported (the first host's finish does). */
  listing?: ServerListing
  result: HostResult

  constructor(
    public host: Connection,
    public plan: DeployPlan,
    private readonly index: number,
    private readonly reopen: Reopen
  ) {
    this.result = { host: host.name, releaseId: '', previousReleaseId: '', status: 'failed', seconds: 0, bytesUploaded: 0 }
  }

  async run(script: string, options?: RunOptions): Promise<ScriptResult> {
    const phase = phaseOf(script)
    if (phase === 'prepare') this.mayHoldLock = true
    let result: ScriptResult
    try {
      result = await this.host.run(script, options)
    } catch (error) {
      // A rejected run never started on the server (the connection was already gone).
      this.lost = true
      throw error
    }
    this.killed = result.code === null && Boolean(result.signal)
    // An answer shows the connection works; one without an exit status means it was lost, or the script killed.
    this.lost = result.code === null
    // These scripts free the lock on every exit; a failed prepare frees what it took.
    if (!this.lost && (phase === 'revert' || phase === 'finish' || phase === 'abort' || (phase === 'prepare' && result.code !== 0))) this.mayHoldLock = false
    return result
  }

  /**
   * After a lost connection: connects again and learns the host's real state
   * (see reconnect.ts); from then on scripts go over the new connection.
   * Rejects with a ReconnectError when the host cannot be reached.
   */
  async recover(onLog: (line: string) => void): Promise<HostState> {
    let state: HostState
    try {
      state = await reconnect(this.reopen, this.index, this.plan, this.host.name, { onLog }, this.killed ? this.host : undefined)
    } catch (error) {
      this.unreachable = (error as Error).message
      throw error
    }
    this.host = state.connection
    this.found = state.current
    this.lost = false
    this.killed = false
    this.unreachable = ''
    this.mayHoldLock = state.lockHeld
    this.switched = state.current === this.plan.releaseId
    this.switchUnknown = false
    return state
  }

  /**
   * Runs a script that may run twice (finish, mark-bad, abort): when the
   * connection is lost, before or during it, reconnects (once: a host found
   * unreachable is not tried again) and runs it once more.
   */
  async runAgainIfLost(script: string, options?: RunOptions): Promise<ScriptResult> {
    if (!this.lost) {
      try {
        const result = await this.run(script, options)
        if (result.code !== null) return result
      } catch (error) {
        if (!this.lost) throw error
      }
    }
    if (this.unreachable) throw new ReconnectError(this.unreachable)
    await this.recover(options?.onLog ?? (() => undefined))
    return this.run(script, options)
  }

  settle(status: HostResult['status'], releaseId: string, error?: string): void {
    const text = [error, this.lockHint(status, error ?? '')].filter(Boolean).join(' ')
    this.settled = true
    this.result = {
      host: this.host.name,
      releaseId,
      previousReleaseId: this.previous,
      status,
      ...(text ? { error: text } : {}),
      seconds: (Date.now() - this.started) / 1000,
      bytesUploaded: this.bytesSent,
      ...(this.healthSeconds !== undefined ? { healthSeconds: this.healthSeconds } : {})
    }
  }

  /** Said once, when the connection went away while this run may hold the lock. */
  private lockHint(status: HostResult['status'], error: string): string {
    if (!this.lost || !this.mayHoldLock || status === 'deployed') return ''
    return lockLeftText(this.host.name, error.includes(this.unreachable) ? '' : this.unreachable)
  }
}

/**
 * Deploys one release to every host, in two phases, so that no host switches
 * unless every host is ready, and a failure after the switch puts every host
 * back where it was:
 *   1. prepare on every host (upload, shared, before-activate);
 *   2. batch by batch (rollout): switch, after-activate, health check; then prune all.
 */
export async function deployFleet(
  hosts: Connection[],
  settings: DeploySettings,
  reporter: Reporter,
  source: SourceReading = readSource(settings, reporter),
  reopen: Reopen = () => Promise.reject(new Error('reconnecting is not possible here'))
): Promise<DeployOutcome> {
  const { listing } = source
  const base = planRelease(settings, expectedFindLines(listing.entries), listing.rootMode, 'none')
  const fleet = hosts.map((host, index) => new HostDeploy(host, hostPlan(base, settings, index), index, reopen))
  const log = logFor(hosts.length, reporter)
  reporter.rememberCleanup(cleanupFor(settings, base))

  const prepared = await reporter.group(`Preparing release ${base.releaseId} on ${describeFleet(hosts)}`, () =>
    settleLimit(fleet, settings.maxParallel, (member) => prepareOn(member, settings, source.ready, log))
  )
  const failedToPrepare = fleet.filter((_, i) => !prepared[i].ok)
  if (failedToPrepare.length > 0) {
    const why = `not switched: ${failedToPrepare.map((m) => m.host.name).join(', ')} failed to prepare`
    // Every host is told to undo: a host whose server side finished but whose runner side failed (tar) holds a lock and a release too.
    await Promise.all(
      fleet.map(async (m, i) => {
        const outcome = prepared[i]
        const undone = await undo(m, log)
        m.settle(outcome.ok ? 'not-switched' : 'failed', m.previous, [outcome.ok ? why : outcome.error.message, undone].filter(Boolean).join('. '))
      })
    )
    reporter.rememberCleanup(undefined)
    throw fleetFailure(fleet, 'prepare', 'nothing was switched')
  }

  await reporter.group(`Activating release ${base.releaseId}`, () => activate(fleet, settings, log, reporter))
  reporter.rememberCleanup(undefined)
  const first = fleet[0]
  return {
    releaseId: base.releaseId,
    previousReleaseId: first.previous,
    results: fleet.map((m) => m.result),
    pruned: first.pruned,
    files: listing.entries.length,
    bytes: listing.bytes,
    bytesSent: fleet.reduce((sum, m) => sum + m.bytesSent, 0),
    compression: first.plan.compression,
    listing: first.listing
  }
}

/**
 * Phase 2, batch by batch (rollout.ts): switch the batch, after-activate on
 * each of its hosts, health check on each; once every batch is healthy,
 * prune all. On a failure every switched host is put back, and hosts not
 * reached never switch.
 */
async function activate(fleet: HostDeploy[], settings: DeploySettings, log: HostLog, reporter: Reporter): Promise<void> {
  // With one host, no after-activate and no health check, switching and pruning can share one round trip.
  if (switchesAndFinishesAtOnce(fleet.length, fleet[0].plan)) return switchAndFinishOne(fleet[0], log)
  const batches = rolloutBatches(fleet, settings)
  if (batches.length > 1)
    reporter.info(
      `Rollout ${describeRollout(
        batches.map((b) => b.map((m) => m.host)),
        settings
      )}`
    )
  for (const batch of batches) await activateBatch(batch, fleet, settings, log)
  await Promise.all(fleet.map((m) => finishOn(m, log)))
  fleet.forEach((m) => m.settle('deployed', m.plan.releaseId))
}

async function switchAndFinishOne(only: HostDeploy, log: HostLog): Promise<void> {
  const outcome = await only.run(switchAndFinishScript(only.plan), { onLog: log(only) }).catch((error: Error) => error)
  const failure = noteSwitch(only, outcome)
  // A switch that ended without an answer: a new connection learns whether current moved.
  const found = await recoverLost([only], log)
  if (failure && (prunedLate(only, outcome) || switchDone(only, found.get(only)))) {
    // The switch succeeded; only the prune after it was cut short. That is cleanup, not a reason to switch back.
    log(only)(`warning: ${failure} The release is live; pruning and unlocking are tried once more.`)
    await finishOn(only, log)
    only.settle('deployed', only.plan.releaseId)
    return
  }
  if (failure) {
    await putBack(only, log, failure, `the switch failed on ${only.host.name}`)
    throw fleetFailure([only], 'switch', activateSummary([only]))
  }
  only.mayHoldLock = false
  only.pruned = (lastResult(outcome as ScriptResult, 'pruned') ?? '').split(' ').filter(Boolean)
  only.listing = listingAtEnd(outcome as ScriptResult, only.host.name)
  only.settle('deployed', only.plan.releaseId)
}

/** What a switch answered, noted on the host; the failure in words, or '' when it switched. */
function noteSwitch(m: HostDeploy, outcome: ScriptResult | Error): string {
  if (outcome instanceof Error) return outcome.message
  // A host counts as switched once its script said so, even if it failed later in that step.
  m.switched = lastResult(outcome, 'switched') === m.plan.releaseId
  m.switchUnknown = !m.switched && outcome.code === null
  return outcome.code === 0 ? '' : remoteFailure(outcome, m.host.name).message
}

/** One batch: switch, after-activate, health check. Throws (every host settled) when the deploy must stop. */
async function activateBatch(batch: HostDeploy[], fleet: HostDeploy[], settings: DeploySettings, log: HostLog): Promise<void> {
  const switched = await Promise.all(batch.map((m) => m.run(switchScript(m.plan), { onLog: log(m) }).catch((error: Error) => error)))
  const failures = new Map<HostDeploy, string>()
  batch.forEach((m, i) => {
    const failure = noteSwitch(m, switched[i])
    if (failure) failures.set(m, failure)
  })
  // A switch that ended without an answer: a new connection learns whether current moved.
  await recoverLost(batch, log)
  if (failures.size > 0) {
    const why = `the switch failed on ${[...failures.keys()].map((m) => m.host.name).join(', ')}`
    await Promise.all(fleet.map((m) => putBack(m, log, failures.get(m), why)))
    throw fleetFailure(fleet, 'switch', activateSummary(fleet))
  }

  const noHook: ScriptResult = { code: 0, results: [], stdout: '', stderr: '' }
  const after = await settleLimit(batch, settings.maxParallel, async (m) => (m.plan.afterActivate ? runStep(m, afterActivateScript(m.plan), log) : noHook))
  const failedAfter = new Map(
    batch.flatMap((m, i): Array<[HostDeploy, string]> => {
      const outcome = after[i]
      if (outcome.ok && outcome.value.code === 0) return []
      return [[m, outcome.ok ? remoteFailure(outcome.value, m.host.name).message : outcome.error.message]]
    })
  )
  if (failedAfter.size > 0) return failAfterSwitch(fleet, failedAfter, 'after-activate', settings, log)

  if (!checksHealth(batch[0].plan)) return
  const checked = await settleLimit(batch, settings.maxParallel, (m) => checkHealthOn(m, m.plan, m.host.name, { onLog: log(m) }))
  const unhealthy = new Map<HostDeploy, string>()
  batch.forEach((m, i) => {
    const outcome = checked[i]
    const health = outcome.ok ? outcome.value : { healthy: false, seconds: 0, failure: outcome.error.message }
    m.healthSeconds = health.seconds
    if (!health.healthy) unhealthy.set(m, health.failure)
  })
  if (unhealthy.size > 0) return failAfterSwitch(fleet, unhealthy, 'health', settings, log)
}

/**
 * after-activate or the health check failed on some switched hosts. With
 * revert-on-failure every switched host goes back; without, the failed ones
 * are marked bad and stay, and hosts not switched yet never switch. Throws.
 */
async function failAfterSwitch(fleet: HostDeploy[], failed: Map<HostDeploy, string>, step: 'after-activate' | 'health', settings: DeploySettings, log: HostLog): Promise<never> {
  const names = [...failed.keys()].map((m) => m.host.name).join(', ')
  const failedStatus = step === 'health' ? 'unhealthy' : 'bad'
  if (settings.revertOnFailure) {
    await Promise.all(fleet.map((m) => putBack(m, log, failed.get(m), `${step === 'health' ? 'the health check' : step} failed on ${names}`)))
    if (step === 'health') failed.forEach((_, m) => (m.result.status === 'reverted' || m.result.status === 'bad') && (m.result.status = 'unhealthy'))
    throw fleetFailure(fleet, step, activateSummary(fleet))
  }
  const notes = new Map(
    await Promise.all(
      [...failed.keys()].map(async (m): Promise<[HostDeploy, string]> => {
        const marked = await m.runAgainIfLost(markBadScript(m.plan), { onLog: log(m) }).then(
          (result) => (result.code === 0 ? '' : remoteFailure(result, m.host.name).message),
          (error: Error) => error.message
        )
        return [m, marked ? `${m.plan.releaseId} could not be marked bad, so a rollback may choose it: ${marked}` : '']
      })
    )
  )
  await Promise.all(
    fleet.map(async (m) => {
      if (m.switched) {
        await finishOn(m, log)
        if (failed.has(m)) m.settle(failedStatus, m.plan.releaseId, [failed.get(m), notes.get(m)].filter(Boolean).join(' '))
        else m.settle('deployed', m.plan.releaseId)
        return
      }
      const undone = await undo(m, log)
      m.settle('not-switched', m.previous, [`not switched: ${step} failed on ${names}`, undone].filter(Boolean).join('. '))
    })
  )
  const where = fleet.every((m) => m.switched)
    ? ''
    : ` on ${fleet
        .filter((m) => m.switched)
        .map((m) => m.host.name)
        .join(', ')}`
  throw fleetFailure(fleet, step, `${fleet[0].plan.releaseId} stays current${where} because revert-on-failure is false`)
}

/** The one-step switch reported the switch, then failed in its prune. */
function prunedLate(member: HostDeploy, outcome: ScriptResult | Error): boolean {
  return member.switched && !(outcome instanceof Error) && lastResult(outcome, 'step') === 'prune'
}

/** After a lost connection, the host was found on the new release with its switch logged: the switch step ended. */
function switchDone(member: HostDeploy, state: HostState | undefined): boolean {
  return state !== undefined && state.switchLogged && member.switched
}

/** Reconnects to each host whose connection was lost (side by side); a host that cannot be reached keeps `unreachable`. */
async function recoverLost(fleet: HostDeploy[], log: HostLog): Promise<Map<HostDeploy, HostState>> {
  const found = new Map<HostDeploy, HostState>()
  await Promise.all(
    fleet
      .filter((m) => m.lost && !m.unreachable)
      .map((m) =>
        m.recover(log(m)).then(
          (state) => void found.set(m, state),
          () => undefined
        )
      )
  )
  return found
}

async function prepareOn(member: HostDeploy, settings: DeploySettings, sourceReady: Promise<UploadSource>, log: HostLog): Promise<void> {
  const prepared = await uploadAndPrepare(member, member.plan, sourceReady, log(member), settings.compression)
  member.plan = prepared.plan
  member.bytesSent = prepared.bytesSent
  const previous = lastResult(prepared.result, 'previous')
  member.previous = previous ?? ''
  member.previousKnown = previous !== undefined
  if (prepared.result.code !== 0) throw remoteFailure(prepared.result, member.host.name)
}

async function runStep(member: HostDeploy, script: string, log: HostLog): Promise<ScriptResult> {
  const result = await member.run(script, { onLog: log(member) })
  if (result.code === null) throw remoteFailure(result, member.host.name)
  return result
}

/**
 * After a failure: a host that switched goes back to the release that was
 * current before (the new one marked bad); one that did not is aborted.
 * Settles the host's result whatever happens, and never rejects.
 */
async function putBack(member: HostDeploy, log: HostLog, failure: string | undefined, elsewhere: string): Promise<void> {
  const id = member.plan.releaseId
  const reason = (failure ?? `switched back: ${elsewhere}`).replace(/\.$/, '')
  if (member.switchUnknown) {
    // Only left when reconnecting failed: the host may be on either release.
    const note = `The connection was lost during the switch and ${member.unreachable || 'the host was not reached again'}: ${member.host.name} may be on ${id} or on ${member.previous || 'no release'}. Check the host, then deploy again or roll back.`
    member.currentUnknown = true
    member.settle('failed', '', [failure, note].filter(Boolean).join(' '))
    return
  }
  if (!member.switched) {
    const undone = await undo(member, log)
    member.settle(failure ? 'failed' : 'not-switched', member.previous, [failure ?? `not switched: ${elsewhere}`, undone].filter(Boolean).join('. '))
    return
  }
  const reverted = await revertOn(member, log)
  if (reverted instanceof Error) {
    member.settle('failed', id, `${reason}. Switching back did not start (${reverted.message}): ${id} is still current there, not marked bad.`)
    member.stuckBecause = member.unreachable ? 'the host could not be reached again' : 'switching back did not start'
    return
  }
  const result = reverted.result
  if (result.code === null) {
    const again = reverted.reconnectFailed ? ` and ${reverted.reconnectFailed}` : ''
    const note = `Switching back was cut off (${remoteFailure(result, member.host.name).message})${again}; ${member.host.name} may be on ${id} or on ${member.previous || 'no release'}.`
    member.currentUnknown = true
    member.settle('failed', '', `${reason}. ${note}`)
    return
  }
  const now = lastResult(result, 'current')
  if (result.code !== 0) {
    const failedToo = `Switching back failed too: ${remoteFailure(result, member.host.name).message}`
    if (now !== undefined && now !== id) member.settle('reverted', now, `${reason}. ${failedToo}; current is ${now || 'nothing'}.`)
    else if (member.found !== undefined && member.found !== id && !member.mayHoldLock) {
      // The reconnect found another run's lock, and current moved on: say where the host really is.
      member.movedByOther = true
      member.settle('failed', member.found, `${reason}. ${failedToo.replace(/\.$/, '')}; another run holds the lock, and current is ${member.found || 'nothing'} there.`)
    } else member.settle('failed', id, `${reason}. ${failedToo}; ${id} is still current there.`)
    return
  }
  const current = now ?? member.previous
  member.settle(current === id ? 'bad' : 'reverted', current, reason)
}

/**
 * The switch back: when the connection is lost before or during it, a new
 * connection runs it again (it is a no-op once current is back). An Error:
 * it never started, so current is as it was; a code null: it was cut off
 * (and `reconnectFailed` says why it could not run again).
 */
async function revertOn(member: HostDeploy, log: HostLog): Promise<{ result: ScriptResult; reconnectFailed?: string } | Error> {
  const script = revertScript(member.plan, member.previous)
  const options = { onLog: log(member) }
  let first: ScriptResult | undefined
  if (!member.lost) {
    try {
      first = await member.run(script, options)
      if (first.code !== null) return { result: first }
    } catch (error) {
      if (!member.lost) return error as Error
    }
  }
  try {
    if (member.unreachable) throw new ReconnectError(member.unreachable)
    await member.recover(log(member))
  } catch (error) {
    return first ? { result: first, reconnectFailed: (error as Error).message } : (error as Error)
  }
  try {
    return { result: await member.run(script, options) }
  } catch (error) {
    return error as Error
  }
}

/** Frees the lock and removes the unused release; returns what went wrong, in words, or ''. Never rejects. */
async function undo(member: HostDeploy, log: HostLog): Promise<string> {
  try {
    const result = await member.runAgainIfLost(abortScript(member.plan), { onLog: log(member) })
    return result.code === 0 ? '' : `Undoing the prepared release failed: ${remoteFailure(result, member.host.name).message}`
  } catch {
    // The connection is gone; the result says so, and whether the lock may be left (see settle).
    return ''
  }
}

/** Prunes and frees the lock. The release is live by now, so a failure here is only a warning. */
async function finishOn(member: HostDeploy, log: HostLog): Promise<void> {
  try {
    const result = await member.runAgainIfLost(finishScript(member.plan), { onLog: log(member) })
    member.pruned = (lastResult(result, 'pruned') ?? '').split(' ').filter(Boolean)
    member.listing = listingAtEnd(result, member.host.name)
    if (result.code !== 0) log(member)(`warning: ${remoteFailure(result, member.host.name).message}`)
    if (result.code === null) log(member)(`warning: ${lockLeftText(member.host.name, '')}`)
  } catch (error) {
    const lock = member.lost ? ` ${lockLeftText(member.host.name, '')}` : ''
    log(member)(`warning: pruning and unlocking did not finish: ${(error as Error).message}.${lock}`)
  }
}

/** What a failed activation left, host by host, claiming only what the hosts reported. */
function activateSummary(fleet: HostDeploy[]): string {
  const id = fleet[0].plan.releaseId
  const names = (members: HostDeploy[]): string => members.map((m) => m.host.name).join(', ')
  const where = (members: HostDeploy[]): string => (fleet.length > 1 && members.length < fleet.length ? ` on ${names(members)}` : '')
  const back = fleet.filter((m) => m.result.status === 'reverted' || (m.result.status === 'unhealthy' && m.result.releaseId !== id))
  const stayed = fleet.filter((m) => m.result.status === 'bad' || (m.result.status === 'unhealthy' && m.result.releaseId === id))
  const stuck = fleet.filter((m) => m.result.status === 'failed' && m.result.releaseId === id)
  const because = [...new Set(stuck.map((m) => m.stuckBecause || 'switching back failed'))].join(' or ')
  const unknown = fleet.filter((m) => m.currentUnknown)
  const moved = fleet.filter((m) => m.movedByOther)
  const parts: string[] = []
  if (back.length) parts.push(`switched back to ${[...new Set(back.map((m) => m.result.releaseId || 'nothing'))].join(', ')} and marked ${id} bad${where(back)}`)
  if (stayed.length) parts.push(`${id} stays current${where(stayed)}, marked bad, as there was no earlier release to switch back to`)
  if (stuck.length) parts.push(`${id} is still current${where(stuck)}, as ${because}`)
  if (moved.length) parts.push(`another run took over the lock on ${names(moved)} and current moved on there (see the results)`)
  if (unknown.length) parts.push(`which release is current on ${names(unknown)} is unknown, as the connection was lost`)
  return parts.length ? parts.join('; ') : 'nothing was switched'
}

/** The error for a failed fleet deploy: one host reads like one error; several get a line each. */
function fleetFailure(fleet: HostDeploy[], step: string, summary: string): DeployError {
  const results = fleet.map((m) => m.result)
  if (fleet.length === 1) {
    const only = fleet[0]
    const error = only.result.error ?? ''
    return new DeployError(`${error.replace(/\.$/, '')}; ${summary}.`, results, step)
  }
  const current = (m: HostDeploy): string => {
    if (m.currentUnknown) return 'unknown'
    // A host that failed before prepare said what was current, and was never switched: the run knows only that.
    if (!m.previousKnown && !m.switched) return 'unchanged'
    return m.result.releaseId || '(none)'
  }
  const lines = fleet.map((m) => `  ${m.host.name}: ${m.result.status}, current ${current(m)}${m.result.error ? ` (${m.result.error})` : ''}`)
  return new DeployError(`Deploy failed at ${step}; ${summary}.\n${lines.join('\n')}`, results, step)
}

/** The lock this run may have left on a host whose connection was lost, and what becomes of it. */
function lockLeftText(name: string, unreachable: string): string {
  const lost = unreachable ? `The connection to ${name} was lost and ${unreachable}` : `The connection to ${name} was lost`
  return `${lost}, so this run's lock may still be held there: the next deploy takes it over once this run's processes there are gone, or free it with mode: unlock.`
}

type HostLog = (member: HostDeploy) => (line: string) => void

/** With several hosts, every remote line names its host. */
function logFor(count: number, reporter: Reporter): HostLog {
  return (member) => (count > 1 ? (line) => reporter.info(`[${member.host.name}] ${line}`) : (line) => reporter.info(line))
}
