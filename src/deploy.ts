import { DeploySettings, Compression } from './settings'
import { RemoteHost } from './transport'
import { ReleasePlan, WireCompression, planRelease } from './plan'
import { expectedFindLines, listSource } from './file-list'
import { localCompressors, packArchive } from './archive'
import { abortScript, activateScript, prepareScript } from './remote-script/scripts'
import { PendingCleanup, Reporter, lastResult, remoteFailure } from './report'

export interface DeployOutcome {
  releaseId: string
  releasePath: string
  /** The release current pointed to before this deploy ('' on a first deploy). */
  previousReleaseId: string
  pruned: string[]
  files: number
  /** Bytes of the files uploaded, before compression. */
  bytes: number
  /** Bytes that went over the wire. */
  bytesSent: number
  compression: WireCompression
  seconds: number
}

/** One deploy over an open connection: prepare (upload, shared, before-activate), then activate (switch, after-activate, prune). */
export async function deployOn(host: RemoteHost, settings: DeploySettings, reporter: Reporter): Promise<DeployOutcome> {
  const started = Date.now()
  const listing = await listSource(settings.sourceDir, settings.exclude)
  reporter.info(`Uploading ${listing.entries.length} entries, ${formatBytes(listing.bytes)}, from ${settings.sourceDir}`)
  for (const skipped of listing.skipped) reporter.warning(`left out ${skipped}: not a file, folder or symlink`)
  {
    const compression = await chooseCompression(settings.compression, host)
    const plan = planRelease(settings, expectedFindLines(listing.entries), compression)
    const archive = await packArchive(settings.sourceDir, listing.entries, compression)
    reporter.rememberCleanup(cleanupFor(plan))
    const prepared = await reporter.group(`Preparing release ${plan.releaseId} on ${host.name}`, () =>
      host.run(prepareScript(plan), { stdin: archive.stream, onLog: reporter.info })
    )
    if (prepared.code !== 0) {
      archive.abort()
      reporter.rememberCleanup(prepared.code === null ? cleanupFor(plan) : undefined)
      throw remoteFailure(prepared, host.name)
    }
    await archive.finished
    const activated = await reporter.group(`Activating release ${plan.releaseId} on ${host.name}`, () =>
      host.run(activateScript(plan), { onLog: reporter.info })
    )
    if (activated.code === null) throw remoteFailure(activated, host.name)
    reporter.rememberCleanup(undefined)
    if (activated.code !== 0) throw remoteFailure(activated, host.name)
    return {
      releaseId: plan.releaseId,
      releasePath: `${plan.deployPath}/releases/${plan.releaseId}`,
      previousReleaseId: lastResult(prepared, 'previous') ?? '',
      pruned: (lastResult(activated, 'pruned') ?? '').split(' ').filter(Boolean),
      files: listing.entries.length,
      bytes: listing.bytes,
      bytesSent: archive.bytesSent(),
      compression,
      seconds: (Date.now() - started) / 1000
    }
  }
}

/** Undoes a prepared release that was never activated: used by the action's post step. */
export async function abortPrepared(settings: DeploySettings, cleanup: PendingCleanup, reporter: Reporter): Promise<void> {
  const host = await RemoteHost.connect(settings)
  try {
    const plan: ReleasePlan = {
      ...planRelease(settings, 0, 'none'),
      deployPath: cleanup.deployPath,
      releaseId: cleanup.releaseId,
      lockToken: cleanup.lockToken,
      logFields: cleanup.logFields
    }
    const result = await host.run(abortScript(plan), { onLog: reporter.info })
    if (result.code !== 0) throw remoteFailure(result, host.name)
  } finally {
    host.close()
  }
}

function cleanupFor(plan: ReleasePlan): PendingCleanup {
  return { deployPath: plan.deployPath, releaseId: plan.releaseId, lockToken: plan.lockToken, logFields: plan.logFields }
}

/** auto: zstd where both ends have it, else gzip where both have it, else none. */
async function chooseCompression(wanted: Compression, host: RemoteHost): Promise<WireCompression> {
  const local = await localCompressors()
  if (wanted !== 'auto') {
    if (!local.has(wanted)) throw new Error(`compression: ${wanted} is not installed on this machine; install it or use compression: auto.`)
    return wanted
  }
  const probe = await host.run('for tool in zstd gzip; do if command -v "$tool" >/dev/null 2>&1; then printf "@@has %s\\n" "$tool"; fi; done')
  const remote = new Set(probe.results.filter(([key]) => key === 'has').map(([, value]) => value))
  for (const candidate of ['zstd', 'gzip'] as const) {
    if (local.has(candidate) && remote.has(candidate)) return candidate
  }
  return 'none'
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
