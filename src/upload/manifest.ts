import { createHash } from 'crypto'
import { createReadStream, readFileSync, readlinkSync } from 'fs'
import * as path from 'path'
import { SourceEntry } from './file-list'

/**
 * The manifest of an uploaded tree, as the server keeps it beside its cache:
 * one line per entry, `<sha256> <type> <mode> <size> <path>`, sorted by the
 * bytes of the line (as `LC_ALL=C sort` does). For a symlink the hash is that
 * of its target; for a folder it is `-`. Plain text, so that the server can
 * patch it with sort and awk, and both sides can compare digests.
 */
export interface ManifestLine {
  path: string
  text: string
}

const TYPE_CODE: Record<SourceEntry['type'], string> = { file: 'f', directory: 'd', symlink: 'l' }

export async function manifestLines(sourceDir: string, entries: SourceEntry[]): Promise<ManifestLine[]> {
  const lines: ManifestLine[] = []
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]
    const full = path.join(sourceDir, entry.path)
    const hash = entry.type === 'file' ? await hashFile(full, entry.size) : entry.type === 'symlink' ? sha256(Buffer.from(readlinkSync(full))) : '-'
    lines.push({ path: entry.path, text: `${hash} ${TYPE_CODE[entry.type]} ${entry.mode.toString(8)} ${entry.size} ${entry.path}` })
    // Let other work (an SSH handshake, say) move between batches.
    if (i % 512 === 511) await new Promise((resolve) => setImmediate(resolve))
  }
  return sortLines(lines)
}

export function sortLines(lines: ManifestLine[]): ManifestLine[] {
  return lines.sort((a, b) => Buffer.compare(Buffer.from(a.text), Buffer.from(b.text)))
}

export function manifestText(lines: ManifestLine[]): string {
  return lines.map((line) => `${line.text}\n`).join('')
}

export function manifestDigest(text: string): string {
  return sha256(Buffer.from(text))
}

export function parseManifest(text: string): ManifestLine[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => ({ path: line.split(' ').slice(4).join(' '), text: line }))
}

/** What an incremental upload sends: the entries to pack, paths to remove first, and the manifest patch. */
export interface Delta {
  /** Entries to upload: new, or changed in content, type, mode or link target. */
  upload: SourceEntry[]
  /** Paths to remove from the cached tree before the upload is applied (gone, replaced, or changed type). */
  remove: string[]
  /** Manifest lines to add (and the paths whose old lines go). */
  add: ManifestLine[]
  /** The manifest the server must hold afterwards, and its digest. */
  next: string
  nextDigest: string
}

export function diffManifests(previous: ManifestLine[], current: ManifestLine[], entries: SourceEntry[]): Delta {
  const before = new Map(previous.map((line) => [line.path, line.text]))
  const now = new Map(current.map((line) => [line.path, line.text]))
  const byPath = new Map(entries.map((entry) => [entry.path, entry]))
  const upload: SourceEntry[] = []
  const remove: string[] = []
  const add: ManifestLine[] = []
  for (const line of current) {
    const old = before.get(line.path)
    if (old === line.text) continue
    add.push(line)
    upload.push(byPath.get(line.path)!)
    // A folder whose mode changed is updated in place; anything else is replaced.
    if (old !== undefined && !(isFolder(old) && isFolder(line.text))) remove.push(line.path)
  }
  for (const line of previous) {
    if (!now.has(line.path)) remove.push(line.path)
  }
  // tar makes missing parent folders with default modes: send every parent of
  // an uploaded entry too, so its mode comes out as in the workspace.
  const uploading = new Set(upload.map((entry) => entry.path))
  for (const entry of [...upload]) {
    for (let parent = path.posix.dirname(entry.path); parent !== '.'; parent = path.posix.dirname(parent)) {
      if (uploading.has(parent)) break
      uploading.add(parent)
      upload.push(byPath.get(parent)!)
    }
  }
  upload.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const next = manifestText(current)
  return { upload, remove, add, next, nextDigest: manifestDigest(next) }
}

function isFolder(text: string): boolean {
  return text.split(' ')[1] === 'd'
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * Small files in one synchronous read (several times faster than the thread
 * pool for thousands of them); big ones streamed, so memory stays flat.
 */
async function hashFile(file: string, size: number): Promise<string> {
  if (size <= 4 * 1024 * 1024) return sha256(readFileSync(file))
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
  })
}
