import { DeploySettings, WireCompression } from '../config/settings'
import { Connection } from '../ssh/connection'
import { Reporter } from './reporter'
import { PreparePlan, planRelease } from '../remote/plan'
import { prepareScript } from '../remote/scripts'
import { expectedFindLines } from '../upload/file-list'
import { formatBytes } from '../config/format'
import { listOn, reported } from './maintenance'
import { ReleaseInfo } from './releases'
import { planUploadOn } from './prepare'
import { activationScripts, hostPlan } from './phases'
import { SourceReading, readSource } from './source'
import { settleLimit } from './parallel'
import { DeployError } from './errors'
import { describeHealth } from './health'
import { describeRollout, rolloutBatches } from './rollout'

/** What a deploy would do on one host. */
export interface DryRunHost {
  host: string
  current: string
  /** As the server's list script reported it for this release id and keep. */
  wouldPrune: string[]
  upload: {
    kind: 'full' | 'incremental'
    /** Entries packed (new or changed ones for an incremental upload). */
    entries: number
    /** Paths the server would remove from its cached tree first. */
    removed: number
    /** Bytes of the packed files, before compression. */
    bytes: number
    compression: WireCompression
    summary: string
  }
  /** The scripts a deploy would run on this host after the inspect round trip, by phase, in order. */
  scripts: Record<string, string>
}

export interface DryRunOutcome {
  releaseId: string
  files: number
  bytes: number
  hosts: DryRunHost[]
  /** The scripts a deploy would run on the first host, in order. */
  scripts: Record<string, string>
  releases: ReleaseInfo[]
}

/**
 * Reads the workspace as a deploy does, and asks each server what a deploy
 * would find there: the same inspect round trip (tools, upload cache) and the
 * list script. Nothing is uploaded and nothing on the servers changes. Prints
 * the plan and the exact scripts a deploy with these settings would send.
 */
export async function dryRunOn(hosts: Connection[], settings: DeploySettings, reporter: Reporter, source: SourceReading = readSource(settings, reporter)): Promise<DryRunOutcome> {
  const { listing } = source
  const base = planRelease(settings, expectedFindLines(listing.entries), listing.rootMode, 'none')
  const settled = await settleLimit(hosts, settings.maxParallel, async (host, index) => {
    const { upload } = await planUploadOn(host, hostPlan(base, settings, index), source.ready, settings.compression)
    const listed = await listOn(host, settings, base.releaseId)
    const info: DryRunHost = {
      host: host.name,
      current: listed.current,
      wouldPrune: reported(listed, 'wouldPrune'),
      upload: {
        kind: upload.kind,
        entries: upload.entries.length,
        removed: upload.removed,
        bytes: upload.bytes,
        compression: upload.plan.compression,
        summary: upload.summary
      },
      scripts: { prepare: prepareScript(withEnvFileHidden(upload.plan)), ...activationScripts(hosts.length, upload.plan) }
    }
    return { info, releases: listed.releases }
  })
  const failed = settled.flatMap((s, i) => (s.ok ? [] : [`  ${hosts[i].name}: ${s.error.message}`]))
  if (failed.length === 1 && hosts.length === 1) throw (settled[0] as { error: Error }).error
  if (failed.length > 0) throw new DeployError(`The dry run failed on ${failed.length} of ${hosts.length} hosts:\n${failed.join('\n')}`, [], 'dry run')
  const perHost = settled.map((s) => (s as { value: { info: DryRunHost; releases: ReleaseInfo[] } }).value)

  reporter.info('DRY RUN: nothing is uploaded and nothing on the servers changes.')
  reporter.info(`release: ${base.releaseId}`)
  reporter.info(`upload:  ${listing.entries.length} entries, ${formatBytes(listing.bytes)} from ${settings.sourceDir}`)
  for (const { info } of perHost) {
    reporter.info(`host:    ${info.host}: current ${info.current || '(none)'}; would prune: ${info.wouldPrune.join(', ') || 'nothing'}`)
    reporter.info(`         ${info.upload.summary}, compression ${info.upload.compression}`)
  }
  if (hosts.length > 1) reporter.info(`rollout: ${describeRollout(rolloutBatches(hosts, settings), settings)}`)
  describeHealth(settings).forEach((line) => reporter.info(line))
  const first = perHost[0].info
  for (const { info } of perHost) {
    const same = info !== first && Object.entries(info.scripts).every(([phase, script]) => first.scripts[phase] === script)
    if (same) {
      reporter.info(`The scripts for ${info.host} are the same as for ${first.host}.`)
      continue
    }
    for (const [phase, script] of Object.entries(info.scripts)) {
      await reporter.group(`Remote script: ${phase} on ${info.host} (sent to sh on stdin over the connection)`, () => {
        script
          .trimEnd()
          .split('\n')
          .forEach((line) => reporter.info(line))
        return Promise.resolve()
      })
    }
  }
  return {
    releaseId: base.releaseId,
    files: listing.entries.length,
    bytes: listing.bytes,
    hosts: perHost.map((h) => h.info),
    scripts: first.scripts,
    releases: perHost[0].releases
  }
}

/** The env file's text is a secret: the printed script holds a note of its size in its place. */
function withEnvFileHidden(plan: PreparePlan): PreparePlan {
  if (!plan.envFile) return plan
  return { ...plan, envFile: { path: plan.envFile.path, text: `(the env-file text, ${Buffer.byteLength(plan.envFile.text)} bytes, is not shown)\n` } }
}
