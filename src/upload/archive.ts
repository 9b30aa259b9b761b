import { spawn, ChildProcess } from 'child_process'
import { PassThrough, Readable } from 'stream'
import * as io from '@actions/io'
import { WireCompression } from '../config/settings'
import { SourceEntry } from './file-list'
import { ControlFile, controlRecords } from './control-records'

/** A tar stream being made; `finished` settles when the packers have exited. */
export interface ArchiveStream {
  stream: Readable
  /** Bytes that left the packer (after compression). */
  bytesSent(): number
  finished: Promise<void>
  abort(): void
}

/** The compressor commands, and their levels when compression-level is not given (the fast end, by measurement). */
const COMPRESSORS: Record<Exclude<WireCompression, 'none'>, { command: string; args: string[]; level: number }> = {
  zstd: { command: 'zstd', args: ['-T0', '-q', '-c'], level: 3 },
  gzip: { command: 'gzip', args: ['-c'], level: 1 }
}

/** Which compressors this machine has, for choosing the wire format. */
export async function localCompressors(): Promise<Set<WireCompression>> {
  const found = new Set<WireCompression>(['none'])
  for (const name of ['zstd', 'gzip'] as const) {
    if (await io.which(name, false)) found.add(name)
  }
  return found
}

/** The incremental upload's lists, sent as the first members of the upload (a folder of files). */
export interface ControlMembers {
  folder: string
  files: ControlFile[]
}

/**
 * Arguments for the system tar, GNU or bsdtar alike: every option before the
 * first name (bsdtar reads no option after one), and no name on the command
 * line at all: they come NUL-separated on stdin, so no list meets a length limit.
 */
export const TAR_ARGS = (sourceDir: string): string[] => ['-c', '-f', '-', '-C', sourceDir, '--no-recursion', '--null', '-T', '-']

/**
 * Streams a tar of exactly the listed entries, packed by the system tar
 * (GNU or bsdtar: an order of magnitude faster than packing in JavaScript),
 * after the control members when there are any.
 */
export async function packArchive(sourceDir: string, entries: SourceEntry[], compression: WireCompression, control?: ControlMembers, level?: number): Promise<ArchiveStream> {
  const tar = spawn(await io.which('tar', true), TAR_ARGS(sourceDir), { stdio: ['pipe', 'pipe', 'pipe'] })
  const children: ChildProcess[] = [tar]
  // The upload is control members + tar, through the compressor when there is one.
  const plain = new PassThrough({ highWaterMark: 1 << 20 })
  let output: Readable = plain
  if (compression !== 'none') {
    const { command, args, level: defaultLevel } = COMPRESSORS[compression]
    const compressor = spawn(await io.which(command, true), [`-${level ?? defaultLevel}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    compressor.stdin.on('error', () => undefined)
    plain.pipe(compressor.stdin)
    children.push(compressor)
    output = compressor.stdout
  }
  // Written before the pipe starts, so the control members come first.
  if (control) plain.write(controlRecords(control.folder, control.files))
  tar.stdout.pipe(plain)
  let bytes = 0
  const stream = new PassThrough({ highWaterMark: 1 << 20 })
  output.on('data', (chunk: Buffer) => {
    bytes += chunk.length
  })
  output.pipe(stream)
  writeNames(tar, entries)
  const finished = Promise.all(children.map(waitForExit)).then(() => undefined)
  // A packer that fails ends the stream early (the server then reports a short
  // upload); the error itself is reported through `finished`, never thrown here.
  stream.on('error', () => undefined)
  finished.catch((error: Error) => stream.destroy(error))
  return {
    stream,
    bytesSent: () => bytes,
    finished,
    abort: () => children.forEach((child) => child.kill('SIGTERM'))
  }
}

function writeNames(tar: ChildProcess, entries: SourceEntry[]): void {
  // "./" keeps a name that starts with "-" from being read as an option.
  tar.stdin!.on('error', () => undefined)
  tar.stdin!.end(Buffer.from(entries.map((entry) => `./${entry.path}\0`).join(''), 'utf8'))
}

function waitForExit(child: ChildProcess): Promise<void> {
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`${child.spawnfile} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no message'}`))
    })
  })
}
