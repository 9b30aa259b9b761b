import { ScriptRunner } from '../ssh/connection'
import { ReleasePlan } from '../remote/plan'
import { SourceListing } from '../upload/file-list'
import { ControlMembers, packArchive } from '../upload/archive'
import { Delta, ManifestLine, diffManifests, manifestDigest, manifestText, parseManifest } from '../upload/manifest'
import { prepareScript, readCacheScript } from '../remote/scripts'
import { EXIT } from '../remote/exit-codes'
import { ScriptResult, allResults, lastResult, manifestBlock } from '../ssh/protocol'
import { formatBytes } from '../config/format'

/** What will be uploaded: the listing, and its manifest when incremental uploads are on and possible. */
export interface UploadSource {
  sourceDir: string
  /** zstd 1-19 or gzip 1-9; undefined: the compressor's fast default. */
  compressionLevel?: number
  listing: SourceListing
  manifest?: ManifestLine[]
}

export interface Prepared {
  result: ScriptResult
  plan: ReleasePlan
  bytesSent: number
  kind: 'full' | 'incremental'
}

const CONTROL = '.atomic-deploy-control'
const PROGRESS_EVERY_MS = 2000

/**
 * Uploads and prepares the release on one host. With a usable cache on the
 * server, only the changes go over the wire; if the server then finds its
 * cache unusable, this starts over with a full upload, on the same connection.
 */
export async function uploadAndPrepare(
  host: ScriptRunner,
  plan: ReleasePlan,
  source: UploadSource,
  log: (line: string) => void,
  inspected?: ScriptResult
): Promise<Prepared> {
  if (!source.manifest) return run(host, { ...plan, incremental: false }, source, undefined, log)
  const cached = inspected ?? (await inspectServer(host, plan))
  const base = cachedManifest(cached)
  if (base === undefined) {
    log(`       full upload: ${lastResult(cached, 'cache-miss') ?? 'the upload cache could not be read'}`)
  } else {
    const delta = diffManifests(parseManifest(base), source.manifest, source.listing.entries)
    const bytes = delta.upload.reduce((sum, e) => sum + e.size, 0)
    log(`       incremental upload: ${delta.upload.length} new or changed, ${delta.remove.length} removed or replaced (${formatBytes(bytes)})`)
    const attempt = await run(host, { ...plan, incremental: true, cacheBase: manifestDigest(base), nextDigest: delta.nextDigest }, source, delta, log)
    if (attempt.result.code !== EXIT.cache) return { ...attempt, kind: 'incremental' }
    log(`       ${lastResult(attempt.result, 'error') ?? 'the upload cache was not usable'}; sending everything instead`)
  }
  const full = fullDelta(source)
  return run(host, { ...plan, incremental: true, cacheBase: '', nextDigest: full.nextDigest }, source, full, log)
}

/** One round trip: which tools the server has, and its upload cache manifest when the cache is usable. */
export function inspectServer(host: ScriptRunner, plan: ReleasePlan): Promise<ScriptResult> {
  return host.run(readCacheScript(plan))
}

export function serverTools(inspected: ScriptResult): Set<string> {
  return new Set(allResults(inspected, 'has'))
}

function cachedManifest(result: ScriptResult): string | undefined {
  if (result.code !== 0 || lastResult(result, 'cache-ok') === undefined) return undefined
  return manifestBlock(result)
}

function fullDelta(source: UploadSource): Delta {
  const next = manifestText(source.manifest!)
  return { upload: source.listing.entries, remove: [], add: source.manifest!, next, nextDigest: manifestDigest(next) }
}

async function run(host: ScriptRunner, plan: ReleasePlan, source: UploadSource, delta: Delta | undefined, log: (line: string) => void): Promise<Prepared> {
  const entries = delta ? delta.upload : source.listing.entries
  const archive = await packArchive(source.sourceDir, entries, plan.compression, delta ? controlMembers(delta) : undefined, source.compressionLevel)
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
    return { result, plan, bytesSent: archive.bytesSent(), kind: delta && plan.cacheBase ? 'incremental' : 'full' }
  } finally {
    clearInterval(progress)
  }
}

/** The lists an upload carries for the server: paths to remove, manifest lines to drop and to add. */
function controlMembers(delta: Delta): ControlMembers {
  const lines = (items: string[]): Buffer => Buffer.from(items.map((item) => `${item}\n`).join(''), 'utf8')
  const dropped = [...new Set([...delta.remove, ...delta.add.map((line) => line.path)])]
  return {
    folder: CONTROL,
    files: [
      { name: 'remove', data: lines(delta.remove) },
      { name: 'drop', data: lines(dropped) },
      { name: 'add', data: lines(delta.add.map((line) => line.text)) }
    ]
  }
}
