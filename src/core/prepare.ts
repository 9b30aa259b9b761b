import { ScriptRunner } from '../ssh/connection'
import { DeployPlan } from '../remote/plan'
import { SourceEntry, SourceListing } from '../upload/file-list'
import { ArchiveStream, ControlMembers, localCompressors, packArchive } from '../upload/archive'
import { Delta, ManifestLine, diffManifests, manifestDigest, manifestText, parseManifest } from '../upload/manifest'
import { prepareScript, inspectScript } from '../remote/scripts'
import { EXIT } from '../remote/exit-codes'
import { ScriptResult, allResults, lastResult, manifestBlock } from '../ssh/protocol'
import { formatBytes } from '../config/format'
import { Compression, WireCompression } from '../config/settings'
import { chooseCompression } from './compression'

/** What will be uploaded: the listing, and its manifest when incremental uploads are on and possible. */
export interface UploadSource {
  sourceDir: string
  /** zstd 1-19 or gzip 1-9; undefined: the compressor's fast default. */
  compressionLevel?: number
  listing: SourceListing
  manifest?: ManifestLine[]
}

/** The plan fields an upload settles: a deploy's plan has them, and so does the stand-in `pack` plans with. */
export type UploadFields = Pick<DeployPlan, 'compression' | 'incremental' | 'cacheBase' | 'nextDigest' | 'controlFolder'>

/**
 * How one host gets the release: the wire format, and a full or an
 * incremental upload. The real prepare sends it; the dry run prints it;
 * `pack` writes it to a file.
 */
export interface UploadPlan<P extends UploadFields = DeployPlan> {
  /** The release plan with this host's upload fields set: compression, incremental, cacheBase, nextDigest. */
  plan: P
  kind: 'full' | 'incremental'
  /** The entries packed: for an incremental upload, the new and changed ones (and their parent folders). */
  entries: SourceEntry[]
  /** Paths the server removes from its cached tree before applying the upload. */
  removed: number
  /** Bytes of the packed files, before compression. */
  bytes: number
  /** The lists the upload carries when the server keeps an upload cache; undefined when it keeps none. */
  delta?: Delta
  /** One line for the log: what is sent and, for a full upload with incremental uploads on, why. */
  summary: string
}

export interface Prepared {
  result: ScriptResult
  plan: DeployPlan
  bytesSent: number
  kind: 'full' | 'incremental'
}

const PROGRESS_EVERY_MS = 2000

/**
 * Uploads and prepares the release on one host, as planUploadOn plans it.
 * If the server then finds its cache unusable after all, this starts over
 * with a full upload, on the same connection.
 */
export async function uploadAndPrepare(
  host: ScriptRunner,
  plan: DeployPlan,
  sourceReady: Promise<UploadSource>,
  log: (line: string) => void,
  /** The compression setting; without it, the plan's own (never auto). */
  compression: Compression = plan.compression
): Promise<Prepared> {
  const { upload, source } = await planUploadOn(host, plan, sourceReady, compression)
  log(`       ${upload.summary}`)
  const attempt = await send(host, upload, source, log)
  if (upload.kind !== 'incremental' || attempt.result.code !== EXIT.cache) return attempt
  log(`       ${lastResult(attempt.result, 'error') ?? 'the upload cache was not usable'}; sending everything instead`)
  return send(host, fullUpload(upload.plan, source, ''), source, log)
}

/**
 * Plans the upload for one host: one round trip to see its tools and upload
 * cache (which changes nothing on the server), made while the workspace is
 * still being hashed, then planUpload. The deploy and the dry run both plan
 * through here, so the dry run shows what a deploy sends.
 */
export async function planUploadOn(
  host: ScriptRunner,
  plan: DeployPlan,
  sourceReady: Promise<UploadSource>,
  compression: Compression
): Promise<{ upload: UploadPlan; source: UploadSource }> {
  const [inspected, source] = await Promise.allSettled([inspectServer(host, plan), sourceReady])
  // The hashing's failure first, and only once the inspect is over: what runs next shares its connection.
  if (source.status === 'rejected') throw source.reason
  if (inspected.status === 'rejected') throw inspected.reason
  return { upload: planUpload(plan, source.value, inspected.value, compression, await localCompressors()), source: source.value }
}

/** One round trip: which tools the server has, and its upload cache manifest when the cache is usable. */
export function inspectServer(host: ScriptRunner, plan: DeployPlan): Promise<ScriptResult> {
  return host.run(inspectScript(plan))
}

export function serverTools(inspected: ScriptResult): Set<string> {
  return new Set(allResults(inspected, 'has'))
}

/**
 * From what the inspect script found: the compression (auto picks what both
 * ends have), then a delta against the server's cache when incremental uploads
 * are on and the cache is usable, else everything.
 */
export function planUpload<P extends UploadFields>(base: P, source: UploadSource, inspected: ScriptResult, compression: Compression, local: Set<WireCompression>): UploadPlan<P> {
  const tools = serverTools(inspected)
  const plan: P = { ...base, compression: chooseCompression(compression, local, tools), incremental: false, cacheBase: '', nextDigest: '' }
  const { entries, bytes } = source.listing
  if (!source.manifest) return { plan, kind: 'full', entries, removed: 0, bytes, summary: fullSummary(source, '') }
  if (inspected.code !== 0) return { plan, kind: 'full', entries, removed: 0, bytes, summary: fullSummary(source, inspectFailure(inspected)) }
  if (!tools.has('sha256sum')) {
    const summary = fullSummary(source, 'the server has no sha256sum, which incremental uploads need')
    return { plan, kind: 'full', entries, removed: 0, bytes, summary }
  }
  const cached = cachedManifest(inspected)
  if (cached === undefined) return fullUpload(plan, source, lastResult(inspected, 'cache-miss') ?? 'the upload cache could not be read')
  const delta = diffManifests(parseManifest(cached), source.manifest, entries)
  const sent = delta.upload.reduce((sum, e) => sum + e.size, 0)
  return {
    plan: { ...plan, incremental: true, cacheBase: manifestDigest(cached), nextDigest: delta.nextDigest },
    kind: 'incremental',
    entries: delta.upload,
    removed: delta.remove.length,
    bytes: sent,
    delta,
    summary: `incremental upload: ${delta.upload.length} new or changed, ${delta.remove.length} removed or replaced (${formatBytes(sent)})`
  }
}

/** Everything, and the server's cache made anew from it; `reason` says why the cache is not used. */
function fullUpload<P extends UploadFields>(base: P, source: UploadSource, reason: string): UploadPlan<P> {
  const { entries, bytes } = source.listing
  const next = manifestText(source.manifest!)
  const delta: Delta = { upload: entries, remove: [], add: source.manifest!, next, nextDigest: manifestDigest(next) }
  return {
    plan: { ...base, incremental: true, cacheBase: '', nextDigest: delta.nextDigest },
    kind: 'full',
    entries,
    removed: 0,
    bytes,
    delta,
    summary: fullSummary(source, reason)
  }
}

/** `full upload: <why> (<n> entries, <bytes>)`; the why only when incremental uploads were wanted. */
/** Why the server check did not answer; the tools it found are then unknown, not missing. */
function inspectFailure(inspected: ScriptResult): string {
  const why = lastResult(inspected, 'error') ?? (inspected.code === null ? 'no answer' : `exit status ${inspected.code}`)
  return `checking the server's tools and upload cache failed (${why})`
}

function fullSummary(source: UploadSource, reason: string): string {
  const size = `${source.listing.entries.length} entries, ${formatBytes(source.listing.bytes)}`
  return reason ? `full upload: ${reason} (${size})` : `full upload (${size})`
}

function cachedManifest(result: ScriptResult): string | undefined {
  if (result.code !== 0 || lastResult(result, 'cache-ok') === undefined) return undefined
  return manifestBlock(result)
}

async function send(host: ScriptRunner, upload: UploadPlan, source: UploadSource, log: (line: string) => void): Promise<Prepared> {
  const { plan } = upload
  const archive = await openUpload(upload, source)
  const progress = setInterval(() => log(`       sent ${formatBytes(archive.bytesSent())}`), PROGRESS_EVERY_MS)
  // Progress is for the upload only; the server's work after it has its own lines.
  archive.finished.then(
    () => clearInterval(progress),
    () => clearInterval(progress)
  )
  try {
    const result = await host.run(prepareScript(plan), { stdin: archive.stream, onLog: log })
    if (result.code !== 0) archive.abort()
    else await archive.finished
    return { result, plan, bytesSent: archive.bytesSent(), kind: upload.kind }
  } finally {
    clearInterval(progress)
  }
}

/** The stream an upload sends: the control members when it carries the cache's lists, then the tar of its entries, compressed. */
export function openUpload(upload: UploadPlan<UploadFields>, source: UploadSource): Promise<ArchiveStream> {
  const control = upload.delta ? controlMembers(upload.delta, upload.plan.controlFolder) : undefined
  return packArchive(source.sourceDir, upload.entries, upload.plan.compression, control, source.compressionLevel)
}

/** The lists an upload carries for the server: paths to remove, manifest lines to drop and to add. */
function controlMembers(delta: Delta, folder: string): ControlMembers {
  const lines = (items: string[]): Buffer => Buffer.from(items.map((item) => `${item}\n`).join(''), 'utf8')
  const dropped = [...new Set([...delta.remove, ...delta.add.map((line) => line.path)])]
  return {
    folder,
    files: [
      { name: 'remove', data: lines(delta.remove) },
      { name: 'drop', data: lines(dropped) },
      { name: 'add', data: lines(delta.add.map((line) => line.text)) }
    ]
  }
}
