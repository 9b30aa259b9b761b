import { DeploySettings } from '../config/settings'
import { Connection } from '../ssh/connection'
import { ScriptResult, lastResult } from '../ssh/protocol'
import { ReleasePlan, planRelease } from '../remote/plan'
import { expectedFindLines } from '../upload/file-list'
import {
  abortScript,
  afterActivateScript,
  finishScript,
  markBadScript,
  revertScript,
  switchAndFinishScript,
  switchScript
} from '../remote/scripts'
import { UploadSource, uploadAndPrepare } from './prepare'
import { Reporter } from './reporter'
import { DeployError, remoteFailure } from './errors'
import { DeployOutcome, HostResult, describeFleet } from './results'
import { hostPlan, switchesAndFinishesAtOnce } from './phases'
import { cleanupFor } from './abort'
import { readSource } from './source'
import { settleLimit } from './parallel'

/** One host's part in a deploy. */
class HostDeploy {
  readonly started = Date.now()
  previous = ''
  switched = false
  bytesSent = 0
  pruned: string[] = []
  result: HostResult

  constructor(
    readonly host: Connection,
    public plan: ReleasePlan
  ) {
    this.result = { host: host.name, releaseId: '', previousReleaseId: '', status: 'failed', seconds: 0, bytesUploaded: 0 }
  }

  settle(status: HostResult['status'], releaseId: string, error?: string): void {
    this.result = {
      host: this.host.name,
      releaseId,
      previousReleaseId: this.previous,
      status,
      ...(error ? { error } : {}),
      seconds: (Date.now() - this.started) / 1000,
      bytesUploaded: this.bytesSent
    }
  }
}

/**
 * Deploys one release to every host, in two phases, so that no host switches
 * unless every host is ready, and a failure after the switch puts every host
 * back where it was:
 *   1. prepare on every host (upload, shared, before-activate);
 *   2. switch every host, then after-activate on each, then prune.
 */
export async function deployFleet(
  hosts: Connection[],
  settings: DeploySettings,
  reporter: Reporter,
  sourceReady: Promise<UploadSource> = readSource(settings, reporter)
): Promise<DeployOutcome> {
  const source = await sourceReady
  const { listing } = source
  const base = planRelease(settings, expectedFindLines(listing.entries), 'none')
  const fleet = hosts.map((host, index) => new HostDeploy(host, hostPlan(base, settings, index)))
  const log = logFor(hosts.length, reporter)
  reporter.rememberCleanup(cleanupFor(settings, base))

  const prepared = await reporter.group(`Preparing release ${base.releaseId} on ${describeFleet(hosts)}`, () =>
    settleLimit(fleet, settings.maxParallel, (member) => prepareOn(member, settings, source, log))
  )
  const failedToPrepare = fleet.filter((_, i) => !prepared[i].ok)
  if (failedToPrepare.length > 0) {
    fleet.forEach((member, i) => {
      const outcome = prepared[i]
      if (!outcome.ok) member.settle('failed', member.previous, outcome.error.message)
    })
    await undoPrepared(fleet.filter((_, i) => prepared[i].ok), log, `${failedToPrepare.map((m) => m.host.name).join(', ')} failed to prepare`)
    // A host whose server side finished but whose runner side failed (tar) holds a lock and a release too.
    await Promise.all(failedToPrepare.map((m) => m.host.run(abortScript(m.plan), { onLog: log(m) }).catch(() => undefined)))
    reporter.rememberCleanup(undefined)
    throw fleetFailure(fleet, 'prepare', 'nothing was switched')
  }

  await reporter.group(`Activating release ${base.releaseId}`, () => activate(fleet, settings, log))
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
    compression: first.plan.compression
  }
}

/** Phase 2: switch all, after-activate on each, prune all; on failure put every switched host back. */
async function activate(fleet: HostDeploy[], settings: DeploySettings, log: HostLog): Promise<void> {
  // With one host and no after-activate, switching and pruning can share one round trip.
  const oneStep = switchesAndFinishesAtOnce(fleet.length, fleet[0].plan)
  const script = (m: HostDeploy): string => (oneStep ? switchAndFinishScript(m.plan) : switchScript(m.plan))
  const switched = await Promise.all(fleet.map((m) => m.host.run(script(m), { onLog: log(m) }).catch((error: Error) => error)))
  const failures = new Map<HostDeploy, string>()
  fleet.forEach((m, i) => {
    const outcome = switched[i]
    // A host counts as switched once its script said so, even if it failed later in that step.
    m.switched = !(outcome instanceof Error) && lastResult(outcome, 'switched') === m.plan.releaseId
    if (outcome instanceof Error) failures.set(m, outcome.message)
    else if (outcome.code !== 0) failures.set(m, remoteFailure(outcome, m.host.name).message)
  })
  if (failures.size > 0) {
    await Promise.all(fleet.map((m) => revertOn(m, log, failures.get(m) ?? 'not switched: the switch failed elsewhere').catch(() => undefined)))
    fleet.forEach((m) => failures.has(m) && m.result.status === 'not-switched' && m.settle('failed', m.previous, failures.get(m)))
    throw fleetFailure(fleet, 'switch', 'every host that had switched was switched back')
  }

  if (oneStep) {
    const only = fleet[0]
    only.pruned = (lastResult(switched[0] as ScriptResult, 'pruned') ?? '').split(' ').filter(Boolean)
    only.settle('deployed', only.plan.releaseId)
    return
  }

  const noHook: ScriptResult = { code: 0, results: [], stdout: '', stderr: '' }
  const after = await settleLimit(fleet, settings.maxParallel, async (m) => (m.plan.afterActivate ? runStep(m, afterActivateScript(m.plan), log) : noHook))
  const failedAfter = fleet.filter((_, i) => !after[i].ok || (after[i] as { value: ScriptResult }).value.code !== 0)
  if (failedAfter.length > 0) {
    const reasons = new Map(failedAfter.map((m) => [m, afterFailureText(after[fleet.indexOf(m)], m)]))
    if (settings.revertOnFailure) {
      await Promise.all(fleet.map((m) => revertOn(m, log, reasons.get(m))))
      throw fleetFailure(fleet, 'after-activate', revertSummary(fleet))
    }
    for (const m of failedAfter) {
      await m.host.run(markBadScript(m.plan), { onLog: log(m) })
      m.settle('bad', m.plan.releaseId, reasons.get(m))
    }
    await Promise.all(fleet.map((m) => finishOn(m, log)))
    throw fleetFailure(fleet, 'after-activate', `${fleet[0].plan.releaseId} stays current because revert-on-failure is false`)
  }
  await Promise.all(fleet.map((m) => finishOn(m, log)))
  fleet.forEach((m) => m.settle('deployed', m.plan.releaseId))
}

async function prepareOn(member: HostDeploy, settings: DeploySettings, source: UploadSource, log: HostLog): Promise<void> {
  const prepared = await uploadAndPrepare(member.host, member.plan, source, log(member), settings.compression)
  member.plan = prepared.plan
  member.bytesSent = prepared.bytesSent
  member.previous = lastResult(prepared.result, 'previous') ?? ''
  if (prepared.result.code !== 0) throw remoteFailure(prepared.result, member.host.name)
}

async function runStep(member: HostDeploy, script: string, log: HostLog): Promise<ScriptResult> {
  const result = await member.host.run(script, { onLog: log(member) })
  if (result.code === null) throw remoteFailure(result, member.host.name)
  return result
}

/** Back to the release that was current before; marks the new one bad and frees the lock. */
async function revertOn(member: HostDeploy, log: HostLog, reason?: string): Promise<void> {
  if (!member.switched) {
    await member.host.run(abortScript(member.plan), { onLog: log(member) })
    member.settle('not-switched', member.previous, reason)
    return
  }
  const result = await member.host.run(revertScript(member.plan, member.previous), { onLog: log(member) })
  if (result.code !== 0) {
    member.settle('bad', member.plan.releaseId, `${reason ?? ''} Switching back failed too: ${remoteFailure(result, member.host.name).message}`.trim())
    return
  }
  const now = lastResult(result, 'current') ?? member.previous
  member.settle(now === member.plan.releaseId ? 'bad' : 'reverted', now, reason)
}

/** Prunes and frees the lock. The release is live by now, so a failure here is only a warning. */
async function finishOn(member: HostDeploy, log: HostLog): Promise<void> {
  try {
    const result = await member.host.run(finishScript(member.plan), { onLog: log(member) })
    member.pruned = (lastResult(result, 'pruned') ?? '').split(' ').filter(Boolean)
    if (result.code !== 0) log(member)(`warning: ${remoteFailure(result, member.host.name).message}`)
  } catch (error) {
    log(member)(`warning: pruning and unlocking did not finish: ${(error as Error).message}`)
  }
}

async function undoPrepared(members: HostDeploy[], log: HostLog, why: string): Promise<void> {
  await Promise.all(
    members.map(async (m) => {
      await m.host.run(abortScript(m.plan), { onLog: log(m) }).catch(() => undefined)
      m.settle('not-switched', m.previous, `not switched: ${why}`)
    })
  )
}

function afterFailureText(outcome: { ok: boolean; error?: Error; value?: ScriptResult }, m: HostDeploy): string {
  return outcome.ok ? remoteFailure(outcome.value!, m.host.name).message : outcome.error!.message
}

function revertSummary(fleet: HostDeploy[]): string {
  const id = fleet[0].plan.releaseId
  const back = fleet.filter((m) => m.result.status === 'reverted')
  const stayed = fleet.filter((m) => m.result.status === 'bad')
  const parts: string[] = []
  if (back.length) parts.push(`switched back to ${[...new Set(back.map((m) => m.result.releaseId))].join(', ')} and marked ${id} bad`)
  if (stayed.length) {
    const where = fleet.length > 1 ? ` on ${stayed.map((m) => m.host.name).join(', ')}` : ''
    parts.push(`${id} stays current${where}, marked bad, as there was no earlier release to switch back to`)
  }
  return parts.join('; ')
}

/** The error for a failed fleet deploy: one host reads like one error; several get a line each. */
function fleetFailure(fleet: HostDeploy[], step: string, summary: string): DeployError {
  const results = fleet.map((m) => m.result)
  if (fleet.length === 1) {
    const only = fleet[0]
    const error = only.result.error ?? ''
    return new DeployError(`${error.replace(/\.$/, '')}; ${summary}.`, results, step)
  }
  const lines = results.map((r) => `  ${r.host}: ${r.status}, current ${r.releaseId || '(none)'}${r.error ? ` (${r.error})` : ''}`)
  return new DeployError(`Deploy failed at ${step}; ${summary}.\n${lines.join('\n')}`, results, step)
}

type HostLog = (member: HostDeploy) => (line: string) => void

/** With several hosts, every remote line names its host. */
function logFor(count: number, reporter: Reporter): HostLog {
  return (member) => (count > 1 ? (line) => reporter.info(`[${member.host.name}] ${line}`) : (line) => reporter.info(line))
}
