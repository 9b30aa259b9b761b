import { DeploySettings, Mode } from '../config/settings'
import { ConnectError, Connection, Connector, connectRemote } from '../ssh/connection'
import { Reporter } from './reporter'
import { failIfUnsettled, trackSteps } from './settle'
import { deployFleet } from './fleet'
import { readSource } from './source'
import { DeployError, RemoteError } from './errors'
import { DeployOutcome, HostResult, describeFleet, resultsTable } from './results'
import { RollbackError, rollbackOn } from './rollback'
import { listOn, reported, unlockOn } from './maintenance'
import { ReleaseInfo, ServerListing } from './releases'
import { settleLimit } from './parallel'
import { Reopen } from './reconnect'
import { describeHost } from '../config/host-address'
import { DryRunOutcome, dryRunOn } from './dry-run'

/** What any mode leaves behind, for outputs and summaries. */
export interface ModeOutcome {
  mode: Mode
  /** The host names, joined. */
  host: string
  /** The release now current (on the first host). */
  releaseId: string
  previousReleaseId: string
  /** Releases on the first host, newest first. */
  releases: ReleaseInfo[]
  results: HostResult[]
  deploy?: DeployOutcome
  dryRun?: DryRunOutcome
  /** unlock: who held the lock ('' when there was none). */
  unlockedHolder?: string
  seconds: number
}

/**
 * The core entry point shared by every front end: one connection per host,
 * one mode, then the release list. It settles, or fails naming its step:
 * never does the process end with the mode unfinished. `connect` opens each
 * connection; tests pass one that returns fakes.
 */
export function runMode(settings: DeploySettings, reporter: Reporter, connect: Connector = connectRemote): Promise<ModeOutcome> {
  const steps = trackSteps(reporter)
  return failIfUnsettled(runModeOnce(settings, steps.reporter, connect), steps.current)
}

async function runModeOnce(settings: DeploySettings, reporter: Reporter, connect: Connector): Promise<ModeOutcome> {
  const started = Date.now()
  // The workspace is read (and, for incremental uploads, hashed) while the connections are made; a dry run reads it the same way.
  const source = settings.mode === 'deploy' ? readSource(settings, reporter) : undefined
  source?.ready.catch(() => undefined)
  const hosts = await reporter.group(`Connecting to ${settings.targets.map(describeHost).join(', ')}`, () => {
    reporter.info(`atomic-deploy on Node ${process.version} (${process.platform}-${process.arch})`)
    return connectAll(settings, reporter, connect)
  })
  try {
    const outcome: ModeOutcome = {
      mode: settings.mode,
      host: hosts.map((h) => h.name).join(', '),
      releaseId: '',
      previousReleaseId: '',
      releases: [],
      results: [],
      seconds: 0
    }
    if (settings.dryRun && settings.mode === 'deploy') {
      outcome.dryRun = await dryRunOn(hosts, settings, reporter, source)
      outcome.releaseId = outcome.dryRun.hosts[0].current
      outcome.releases = outcome.dryRun.releases
      outcome.seconds = (Date.now() - started) / 1000
      return outcome
    }
    // The release list, when the mode's last script on the first host reported it; else a list script reads it.
    let listing: ServerListing | undefined
    if (settings.mode === 'deploy') {
      outcome.deploy = await deployFleet(hosts, settings, reporter, source, reopenFor(hosts, settings, reporter, connect))
      listing = outcome.deploy.listing
      outcome.results = outcome.deploy.results
      outcome.releaseId = outcome.deploy.releaseId
      outcome.previousReleaseId = outcome.deploy.previousReleaseId
    } else {
      const done = await perHost(hosts, settings, reporter, reopenFor(hosts, settings, reporter, connect))
      outcome.results = done.results
      listing = done.listing
      outcome.releaseId = outcome.results[0].releaseId
      outcome.previousReleaseId = outcome.results[0].previousReleaseId
      if (settings.mode === 'unlock') outcome.unlockedHolder = outcome.results[0].lockHolder ?? ''
    }
    const listed = listing ?? (await listAfter(hosts[0], settings, reporter))
    outcome.releases = listed?.releases ?? []
    if (listed && (settings.mode === 'list' || settings.mode === 'unlock')) {
      // Where a rollback would go is the server's decision, reported by its list script.
      outcome.releaseId = listed.current
      outcome.previousReleaseId = reported(listed, 'rollbackTarget')
    }
    if (settings.mode === 'list' && listed?.lockHolder) reporter.info(`locked by ${listed.lockHolder}`)
    if (outcome.results.length > 1) reporter.info(resultsTable(outcome.results))
    outcome.seconds = (Date.now() - started) / 1000
    return outcome
  } finally {
    hosts.forEach((host) => host.close())
  }
}

/**
 * The release list for the outputs. For list and unlock it is the result, so
 * a failure fails the mode; after a deploy or rollback that finished, the
 * mode's own outcome stands and a listing that fails is only a warning.
 */
async function listAfter(host: Connection, settings: DeploySettings, reporter: Reporter): Promise<ServerListing | undefined> {
  if (settings.mode === 'list' || settings.mode === 'unlock') return listOn(host, settings)
  try {
    return await listOn(host, settings)
  } catch (error) {
    reporter.warning(`${settings.mode} finished, but the release list could not be read from ${host.name} (${(error as Error).message}); the releases output is empty.`)
    return undefined
  }
}

/**
 * A new connection to host `index` in place of one that was lost: it takes
 * the old one's place in `hosts`, so the release list and the final close
 * use it. The old one is closed once its script has ended (it has, when this is called).
 */
function reopenFor(hosts: Connection[], settings: DeploySettings, reporter: Reporter, connect: Connector): Reopen {
  return async (index) => {
    reporter.info(`Reconnecting to ${describeHost(settings.targets[index])}`)
    const fresh = await connect(settings, settings.targets[index], reporter.warning)
    hosts[index].close()
    hosts[index] = fresh
    return fresh
  }
}

/** Connects to every host; if any cannot be reached, closes the rest and fails naming each. */
async function connectAll(settings: DeploySettings, reporter: Reporter, connect: Connector): Promise<Connection[]> {
  if (settings.hostKey.mode === 'insecure' || settings.proxy?.hostKey.mode === 'insecure') {
    reporter.warning(
      'Host key checking is off (strict-host-key: false): anyone between the runner and the server could read or change this deploy. Pin the key with known-hosts or host-fingerprint.'
    )
  }
  const connected = await settleLimit(settings.targets, settings.maxParallel, (target) => connect(settings, target, reporter.warning))
  const failures = connected.flatMap((c) => (c.ok ? [] : [c.error]))
  if (failures.length === 0) return connected.map((c) => (c as { value: Connection }).value)
  connected.forEach((c) => c.ok && c.value.close())
  if (settings.targets.length === 1) throw failures[0]
  const message = failures.map((error) => `  ${error.message}`).join('\n')
  throw new ConnectError(`Could not connect to ${failures.length} of ${settings.targets.length} hosts; nothing was changed on any host:\n${message}`, false)
}

/** The release a failed mode left current, when the run knows it ('' when not). */
function currentAfter(error: Error): string {
  return error instanceof RollbackError ? (error.current ?? '') : ''
}

/** rollback, list, unlock: the same on every host, side by side; fails if any host failed. The listing: the first host's, when its rollback reported it. */
async function perHost(hosts: Connection[], settings: DeploySettings, reporter: Reporter, reopen: Reopen): Promise<{ results: HostResult[]; listing?: ServerListing }> {
  let listing: ServerListing | undefined
  const log = (host: Connection) => (hosts.length > 1 ? (line: string) => reporter.info(`[${host.name}] ${line}`) : reporter.info)
  const settled = await settleLimit([...hosts], settings.maxParallel, async (host, index): Promise<HostResult> => {
    const started = Date.now()
    const base = { host: host.name, seconds: 0, bytesUploaded: 0 }
    if (settings.mode === 'rollback') {
      const { listing: listed, ...done } = await rollbackOn(host, settings, { ...reporter, info: log(host) }, () => reopen(index), index === 0)
      if (index === 0) listing = listed
      return { ...base, ...done, status: 'rolled-back', seconds: (Date.now() - started) / 1000 }
    }
    if (settings.mode === 'unlock') {
      const holder = await unlockOn(host, settings, { ...reporter, info: log(host) })
      return { ...base, releaseId: '', previousReleaseId: '', status: 'unlocked', lockHolder: holder || undefined, seconds: (Date.now() - started) / 1000 }
    }
    return { ...base, releaseId: '', previousReleaseId: '', status: 'listed', seconds: (Date.now() - started) / 1000 }
  })
  const results = settled.map((s, i) =>
    s.ok
      ? s.value
      : { host: hosts[i].name, releaseId: currentAfter(s.error), previousReleaseId: '', status: 'failed' as const, error: s.error.message, seconds: 0, bytesUploaded: 0 }
  )
  const failed = settled.flatMap((s) => (s.ok ? [] : [s.error]))
  // One host: its own error, with the results (which release it is on, when known).
  if (failed.length === 1 && hosts.length === 1) throw new DeployError(failed[0].message, results, failed[0] instanceof RemoteError ? failed[0].step : settings.mode)
  if (failed.length > 0) {
    const lines = results.map((r) => `  ${r.host}: ${r.status}${r.releaseId ? `, current ${r.releaseId}` : ''}${r.status === 'failed' ? ` (${r.error})` : ''}`)
    throw new DeployError(`${settings.mode} failed on ${failed.length} of ${hosts.length} hosts:\n${lines.join('\n')}`, results, settings.mode)
  }
  if (settings.mode === 'rollback' && new Set(results.map((r) => r.releaseId)).size > 1) {
    reporter.warning(`The hosts rolled back to different releases (${results.map((r) => `${r.host}: ${r.releaseId}`).join(', ')}); give release-id to roll them all to one.`)
  }
  reporter.info(`${settings.mode} done on ${describeFleet(hosts)}`)
  return { results, listing }
}
