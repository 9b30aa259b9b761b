import * as fs from 'fs'
import { pipeline } from 'stream/promises'
import { UploadSettings, WireCompression } from '../config/settings'
import { formatBytes } from '../config/format'
import { localCompressors } from '../upload/archive'
import { ScriptResult } from '../ssh/protocol'
import { controlFolderName } from '../remote/plan'
import { UploadFields, openUpload, planUpload } from './prepare'
import { Reporter } from './reporter'
import { readSource } from './source'

/**
 * What `pack` plans against: the inspect answer of a server with every tool
 * and no upload cache yet, as a first deploy finds most servers. So the
 * file is the stream such a deploy sends, chosen by the deploy's own code.
 */
const FRESH_SERVER: ScriptResult = {
  code: 0,
  results: [
    ['has', 'zstd'],
    ['has', 'gzip'],
    ['has', 'sha256sum'],
    ['cache-miss', 'there is no upload cache yet']
  ],
  stdout: '',
  stderr: ''
}

export interface PackOutcome {
  output: string
  compression: WireCompression
  kind: 'full' | 'incremental'
  /** Workspace entries packed (the control members not counted). */
  entries: number
  /** Bytes written to the file. */
  bytes: number
}

/** Writes the upload a first deploy of this workspace sends into `output`; a failed pack leaves no file. */
export async function packToFile(settings: UploadSettings, output: string, reporter: Reporter, controlFolder = controlFolderName()): Promise<PackOutcome> {
  const source = await readSource(settings, reporter).ready
  const base: UploadFields = { compression: 'none', incremental: false, cacheBase: '', nextDigest: '', controlFolder }
  const upload = planUpload(base, source, FRESH_SERVER, settings.compression, await localCompressors())
  reporter.info(`${upload.summary}, compression ${upload.plan.compression}`)
  const archive = await openUpload(upload, source)
  try {
    await Promise.all([pipeline(archive.stream, fs.createWriteStream(output)), archive.finished])
  } catch (error) {
    archive.abort()
    fs.rmSync(output, { force: true })
    throw error
  }
  const bytes = archive.bytesSent()
  reporter.info(`wrote ${output} (${formatBytes(bytes)})`)
  return { output, compression: upload.plan.compression, kind: upload.kind, entries: upload.entries.length, bytes }
}
