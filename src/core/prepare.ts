import { promises as fs } from 'fs'
import * as os from 'os'
import * as path from 'path'
import { ScriptRunner } from '../ssh/connection'
import { ReleasePlan } from '../remote/plan'
import { SourceListing } from '../upload/file-list'
import { packArchive } from '../upload/archive'
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
  const control = delta ? await writeControl(delta) : undefined
  try {
    const entries = delta ? delta.upload : source.listing.entries
    const archive = await packArchive(
      source.sourceDir,
      entries,
      plan.compression,
      control ? { parent: control, names: CONTROL_NAMES } : undefined,
      source.compressionLevel
    )
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
  } finally {
    if (control) await fs.rm(control, { recursive: true, force: true })
  }
}

const CONTROL_NAMES = [CONTROL, `${CONTROL}/remove`, `${CONTROL}/drop`, `${CONTROL}/add`]

/** The lists an upload carries for the server: paths to remove, manifest lines to drop and to add. */
async function writeControl(delta: Delta): Promise<string> {
  const parent = await fs.mkdtemp(path.join(os.tmpdir(), 'atomic-deploy-control-'))
  const dir = path.join(parent, CONTROL)
  await fs.mkdir(dir)
  const lines = (items: string[]): string => items.map((item) => `${item}\n`).join('')
  const dropped = [...new Set([...delta.remove, ...delta.add.map((line) => line.path)])]
  await fs.writeFile(path.join(dir, 'remove'), lines(delta.remove))
  await fs.writeFile(path.join(dir, 'drop'), lines(dropped))
  await fs.writeFile(path.join(dir, 'add'), lines(delta.add.map((line) => line.text)))
  return parent
}
