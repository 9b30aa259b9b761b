/**
 * The manifest's hashes are git blob ids, taken from git's index for tracked
 * files git reports unchanged and computed from the bytes for the rest. Every
 * case checks the manifest against one this test computes from the bytes of
 * every entry, so that a blob id trusted wrongly (a file changed behind the
 * index, converted line endings, a path of another folder) fails it.
 */
import { execFileSync } from 'child_process'
import { createHash } from 'crypto'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterEach, describe, expect, it } from 'vitest'
import { listSource } from '../../src/upload/file-list'
import { diffManifests, manifestLines, manifestText, parseManifest } from '../../src/upload/manifest'
import { gitBlobs } from '../../src/upload/git-blobs'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-manifest-git-'))
let count = 0
const newDir = (): string => fs.mkdtempSync(path.join(tmp, `${count++}-`))

function git(cwd: string, ...args: string[]): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' }
  return execFileSync('git', ['-c', 'init.defaultBranch=main', '-c', 'core.autocrlf=false', ...args], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function write(root: string, rel: string, content: string | Buffer): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
  fs.writeFileSync(path.join(root, rel), content)
}

/** The manifest as this test computes it: every file's and link's bytes hashed, nothing taken from git. */
async function expectedManifest(root: string, format: 'sha1' | 'sha256' = 'sha1'): Promise<string> {
  const { entries } = await listSource(root, ['.git'])
  const blob = (data: Buffer): string =>
    createHash(format)
      .update(Buffer.concat([Buffer.from(`blob ${data.length}\0`), data]))
      .digest('hex')
  const lines = entries.map((entry) => {
    const full = path.join(root, entry.path)
    const hash = entry.type === 'file' ? blob(fs.readFileSync(full)) : entry.type === 'symlink' ? blob(fs.readlinkSync(full, { encoding: 'buffer' })) : '-'
    return `${hash} ${{ file: 'f', directory: 'd', symlink: 'l' }[entry.type]} ${entry.mode.toString(8)} ${entry.size} ${entry.path}\n`
  })
  return lines.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).join('')
}

async function actualManifest(root: string, log: (line: string) => void = () => undefined): Promise<string> {
  return manifestText(await manifestLines(root, (await listSource(root, ['.git'])).entries, log))
}

async function trusted(root: string): Promise<string[]> {
  return [...(await gitBlobs(root, () => undefined)).trusted.keys()].sort()
}

/** A committed checkout: files, an executable, a link, a folder. */
function checkout(format: 'sha1' | 'sha256' = 'sha1'): string {
  const root = newDir()
  git(root, 'init', '-q', `--object-format=${format}`)
  write(root, 'index.php', '<?php echo 1;\n')
  write(root, 'app/Models/User.php', '<?php class User {}\n')
  write(root, 'app/a.txt', 'in app\n')
  write(root, 'a.txt', 'at the root\n')
  write(root, 'bin/run', '#!/bin/sh\n')
  fs.chmodSync(path.join(root, 'bin/run'), 0o755)
  write(root, 'public/big.bin', Buffer.alloc(5 * 1024 * 1024, 7))
  fs.symlinkSync('index.php', path.join(root, 'link'))
  write(root, '.gitignore', 'build/\n')
  git(root, 'add', '-A')
  git(root, 'commit', '-qm', 'one')
  return root
}

const originalPath = process.env.PATH
afterEach(() => {
  process.env.PATH = originalPath
})

describe('the manifest of a git checkout', () => {
  it('equals the one hashed from the bytes, with clean tracked files taken from git', async () => {
    const root = checkout()
    expect(await actualManifest(root)).toBe(await expectedManifest(root))
    expect(await trusted(root)).toEqual(['.gitignore', 'a.txt', 'app/Models/User.php', 'app/a.txt', 'bin/run', 'index.php', 'public/big.bin'])
  })

  it('hashes untracked, ignored, modified, staged and deleted-then-recreated files from their bytes', async () => {
    const root = checkout()
    write(root, 'untracked.txt', 'new\n')
    write(root, 'build/app.js', 'built\n')
    write(root, 'index.php', '<?php echo 22;\n')
    write(root, 'a.txt', 'staged root\n')
    git(root, 'add', 'a.txt')
    expect(await actualManifest(root)).toBe(await expectedManifest(root))
    const clean = await trusted(root)
    expect(clean).not.toContain('index.php')
    expect(clean).not.toContain('untracked.txt')
    expect(clean).not.toContain('build/app.js')
    // Staged: the index holds the new bytes' id, which is right to use.
    expect(clean).toContain('a.txt')
  })

  it('does not trust a file changed to the same size with its mtime put back', async () => {
    const root = checkout()
    const file = path.join(root, 'app/Models/User.php')
    const before = fs.statSync(file)
    fs.writeFileSync(file, '<?php class Resu {}\n')
    fs.utimesSync(file, before.atime, before.mtime)
    expect(fs.statSync(file).size).toBe(before.size)
    expect(await actualManifest(root)).toBe(await expectedManifest(root))
    expect(await trusted(root)).not.toContain('app/Models/User.php')
  })

  it('does not trust a file changed right after git add, same size and mtime (racy git)', async () => {
    const root = newDir()
    git(root, 'init', '-q')
    const file = path.join(root, 'racy.txt')
    fs.writeFileSync(file, 'aaaa\n')
    const written = fs.statSync(file)
    git(root, 'add', 'racy.txt')
    fs.writeFileSync(file, 'bbbb\n')
    fs.utimesSync(file, written.atime, written.mtime)
    expect(await actualManifest(root)).toBe(await expectedManifest(root))
    expect(await trusted(root)).not.toContain('racy.txt')
  })

  it('does not trust assume-unchanged or skip-worktree (sparse) entries', async () => {
    const root = checkout()
    git(root, 'update-index', '--assume-unchanged', 'index.php')
    git(root, 'update-index', '--skip-worktree', 'a.txt')
    write(root, 'index.php', '<?php echo 2;\n')
    write(root, 'a.txt', 'at the rooT\n')
    expect(await actualManifest(root)).toBe(await expectedManifest(root))
    const clean = await trusted(root)
    expect(clean).not.toContain('index.php')
    expect(clean).not.toContain('a.txt')
  })

  it('hashes files whose attributes convert line endings, and everything under core.autocrlf', async () => {
    const root = newDir()
    git(root, 'init', '-q')
    write(root, '.gitattributes', '*.txt text eol=crlf\n*.id ident\n')
    write(root, 'notes.txt', 'one\ntwo\n')
    write(root, 'plain.md', 'one\ntwo\n')
    write(root, 'v.id', '$Id$\n')
    git(root, 'add', '-A')
    git(root, 'commit', '-qm', 'one')
    fs.rmSync(path.join(root, 'notes.txt'))
    fs.rmSync(path.join(root, 'v.id'))
    git(root, 'checkout', '--', 'notes.txt', 'v.id')
    expect(fs.readFileSync(path.join(root, 'notes.txt'), 'utf8')).toBe('one\r\ntwo\r\n')
    expect(await actualManifest(root)).toBe(await expectedManifest(root))
    expect(await trusted(root)).toEqual(['.gitattributes', 'plain.md'])

    fs.rmSync(path.join(root, '.gitattributes'))
    git(root, 'rm', '-q', '--cached', '.gitattributes')
    git(root, 'config', 'core.autocrlf', 'true')
    fs.rmSync(path.join(root, 'plain.md'))
    git(root, '-c', 'core.autocrlf=true', 'checkout', '--', 'plain.md')
    expect(fs.readFileSync(path.join(root, 'plain.md'), 'utf8')).toBe('one\r\ntwo\r\n')
    expect(await actualManifest(root)).toBe(await expectedManifest(root))
    expect(await trusted(root)).toEqual([])
  })

  it('maps paths when the source is a subfolder of the repository', async () => {
    const root = checkout()
    write(root, 'app/new.txt', 'untracked in app\n')
    const app = path.join(root, 'app')
    expect(await actualManifest(app)).toBe(await expectedManifest(app))
    expect(await trusted(app)).toEqual(['Models/User.php', 'a.txt'])
  })

  it('hashes the files of a submodule and never takes a gitlink for a file', async () => {
    const root = checkout()
    const inner = path.join(root, 'vendor/lib')
    fs.mkdirSync(inner, { recursive: true })
    git(inner, 'init', '-q')
    write(inner, 'lib.php', '<?php\n')
    git(inner, 'add', '-A')
    git(inner, 'commit', '-qm', 'inner')
    git(root, 'add', 'vendor/lib')
    git(root, 'commit', '-qm', 'gitlink')
    write(inner, 'lib.php', '<?php // changed\n')
    expect(await actualManifest(root)).toBe(await expectedManifest(root))
    expect(await trusted(root)).not.toContain('vendor/lib')
  })

  it('uses sha256 blob ids in a sha256 repository', async () => {
    const root = checkout('sha256')
    write(root, 'untracked.txt', 'new\n')
    const manifest = await actualManifest(root)
    expect(manifest).toBe(await expectedManifest(root, 'sha256'))
    expect(manifest.split('\n').find((line) => line.endsWith(' index.php'))).toMatch(/^[0-9a-f]{64} f /)
    expect((await trusted(root)).length).toBeGreaterThan(0)
  })
})

describe('without git to ask', () => {
  it('hashes every file when git is not on PATH', async () => {
    const root = checkout()
    process.env.PATH = newDir()
    const logged: string[] = []
    expect(await actualManifest(root, (line) => logged.push(line))).toBe(await expectedManifest(root))
    expect(logged).toEqual([])
  })

  it('hashes every file of a folder that is no repository', async () => {
    const root = newDir()
    write(root, 'a/b.txt', 'b\n')
    fs.symlinkSync('a/b.txt', path.join(root, 'l'))
    const logged: string[] = []
    expect(await actualManifest(root, (line) => logged.push(line))).toBe(await expectedManifest(root))
    expect(logged).toEqual([])
  })

  it('hashes every file, and logs one line, when git fails', async () => {
    const root = checkout()
    const bin = newDir()
    write(bin, 'git', '#!/bin/sh\necho "fatal: something broke" >&2\nexit 2\n')
    fs.chmodSync(path.join(bin, 'git'), 0o755)
    process.env.PATH = `${bin}:${originalPath}`
    const logged: string[] = []
    expect(await actualManifest(root, (line) => logged.push(line))).toBe(await expectedManifest(root))
    expect(logged).toHaveLength(1)
    expect(logged[0]).toContain('something broke')
  })
})

describe('a cache manifest of an earlier version (plain sha256 digests)', () => {
  it('matches no file: every file is sent again, and removed from the cache first', async () => {
    const root = checkout()
    const { entries } = await listSource(root, ['.git'])
    const old = entries.map((entry) => {
      const full = path.join(root, entry.path)
      const data = entry.type === 'file' ? fs.readFileSync(full) : entry.type === 'symlink' ? Buffer.from(fs.readlinkSync(full)) : undefined
      const hash = data === undefined ? '-' : createHash('sha256').update(data).digest('hex')
      return `${hash} ${{ file: 'f', directory: 'd', symlink: 'l' }[entry.type]} ${entry.mode.toString(8)} ${entry.size} ${entry.path}`
    })
    const delta = diffManifests(parseManifest(old.join('\n')), await manifestLines(root, entries), entries)
    const notFolders = entries.filter((entry) => entry.type !== 'directory').map((entry) => entry.path)
    expect(delta.upload.map((entry) => entry.path)).toEqual(expect.arrayContaining(notFolders))
    expect(delta.remove.sort()).toEqual(notFolders.sort())
  })
})
