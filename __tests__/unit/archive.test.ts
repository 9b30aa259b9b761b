/**
 * The upload stream as users' runners make it: packed by GNU tar or bsdtar
 * (whichever is `tar` on PATH), with the incremental control members first,
 * and read back by the tars servers have: GNU tar, bsdtar and BusyBox tar.
 */
import { execFileSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { packArchive } from '../../src/upload/archive'
import { listSource } from '../../src/upload/file-list'
import { RUNNER_TARS, runnerPath } from '../support/runner-tools'
import { WireCompression } from '../../src/config/settings'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-archive-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

const FILES: Record<string, string> = {
  'index.html': 'home',
  '-starts-with-dash': 'dash',
  'with space/and ünïcode.txt': 'utf8',
  'deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/and/a/name/longer/than/a/hundred/bytes.txt': 'long',
  'empty/': ''
}

function workspace(): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'ws-'))
  for (const [name, content] of Object.entries(FILES)) {
    if (name.endsWith('/')) fs.mkdirSync(path.join(dir, name), { recursive: true })
    else {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
      fs.writeFileSync(path.join(dir, name), content)
    }
  }
  fs.symlinkSync('index.html', path.join(dir, 'link'))
  return dir
}

async function pack(dir: string, compression: WireCompression, pathVar: string): Promise<Buffer> {
  const saved = process.env.PATH
  process.env.PATH = pathVar
  try {
    const listing = await listSource(dir, [])
    const control = {
      folder: '.control-test',
      files: [
        { name: 'add', data: Buffer.from('line one\nline two\n') },
        { name: 'remove', data: Buffer.alloc(0) }
      ]
    }
    const archive = await packArchive(dir, listing.entries, compression, control)
    const chunks: Buffer[] = []
    for await (const chunk of archive.stream) chunks.push(chunk as Buffer)
    await archive.finished
    expect(archive.bytesSent()).toBe(Buffer.concat(chunks).length)
    return Buffer.concat(chunks)
  } finally {
    process.env.PATH = saved
  }
}

const EXTRACTORS: Record<string, string[]> = {
  gnu: ['tar', '-xpof', '-'],
  bsdtar: ['bsdtar', '-xpof', '-'],
  busybox: ['busybox', 'tar', '-xof', '-']
}
const DECOMPRESS: Record<WireCompression, string[] | undefined> = { none: undefined, gzip: ['gzip', '-dc'], zstd: ['zstd', '-dc'] }

function extract(data: Buffer, compression: WireCompression, extractor: string): string {
  const out = fs.mkdtempSync(path.join(tmp, `out-${extractor}-`))
  const decompress = DECOMPRESS[compression]
  const plain = decompress ? execFileSync(decompress[0], decompress.slice(1), { input: data, maxBuffer: 1 << 26 }) : data
  const [command, ...args] = EXTRACTORS[extractor]
  execFileSync(command, args, { input: plain, cwd: out })
  return out
}

describe.each(RUNNER_TARS)('packed by %s', (tar) => {
  const zstdPath = runnerPath(tar, { zstd: true, under: tmp })
  describe.each(['none', 'gzip', 'zstd'] as const)('compression %s', (compression) => {
    it.each(Object.keys(EXTRACTORS))('read back whole by %s tar: every file, the link, the control members first', async (extractor) => {
      const data = await pack(workspace(), compression, zstdPath)
      const out = extract(data, compression, extractor)
      for (const [name, content] of Object.entries(FILES)) {
        if (name.endsWith('/')) expect(fs.statSync(path.join(out, name)).isDirectory(), name).toBe(true)
        else expect(fs.readFileSync(path.join(out, name), 'utf8'), name).toBe(content)
      }
      expect(fs.readlinkSync(path.join(out, 'link'))).toBe('index.html')
      expect(fs.readFileSync(path.join(out, '.control-test/add'), 'utf8')).toBe('line one\nline two\n')
      expect(fs.readFileSync(path.join(out, '.control-test/remove'), 'utf8')).toBe('')
      const decompress = DECOMPRESS[compression]
      const plain = decompress ? execFileSync(decompress[0], decompress.slice(1), { input: data }) : data
      const names = execFileSync('tar', ['-tf', '-'], { input: plain, encoding: 'utf8' }).split('\n')
      expect(names[0]).toBe('.control-test/')
    })
  })
})
