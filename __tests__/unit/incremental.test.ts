/**
 * Incremental uploads, end to end without SSH: the real upload code
 * (manifest, delta, control lists, tar) feeds the real prepare script, run by
 * dash, BusyBox sh (with BusyBox's tools) and bash on a temp folder. After
 * every step of a sequence of edits, the release must equal the workspace
 * byte for byte, mode for mode, link for link.
 */
import { execFileSync, spawnSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { treeSnapshot } from '../support/tree'
import { beforeAll, describe, expect, it } from 'vitest'
import { testDeployPlan } from '../support/deploy-plan'
import { listSource, expectedFindLines } from '../../src/upload/file-list'
import { manifestLines } from '../../src/upload/manifest'
import { uploadAndPrepare } from '../../src/core/prepare'
import { DeployPlan, controlFolderName } from '../../src/remote/plan'
import { ScriptRunner } from '../../src/ssh/connection'
import { localRunner as runLocally } from '../support/local-runner'
import { finishScript, switchScript } from '../../src/remote/scripts'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-incr-'))
const busyboxBin = path.join(tmp, 'busybox-bin')
beforeAll(() => {
  fs.mkdirSync(busyboxBin)
  execFileSync('busybox', ['--install', '-s', busyboxBin])
})

const SHELLS = [
  { name: 'dash', command: ['dash', '-c'], PATH: process.env.PATH! },
  { name: 'busybox', command: ['busybox', 'sh', '-c'], PATH: `${busyboxBin}:${process.env.PATH}` },
  { name: 'bash', command: ['bash', '-c'], PATH: process.env.PATH! }
]

/** How the server runs: commands found first in `pathBefore`; as `user` instead of the test's own. */
interface ServerOptions {
  pathBefore?: string
  user?: { uid: number; gid: number }
}

/** A local server (support/local-runner.ts) with one of these shells, at home in tmp. */
function localRunner(shell: (typeof SHELLS)[number], server: ServerOptions = {}): ScriptRunner {
  const PATH = server.pathBefore ? `${server.pathBefore}:${shell.PATH}` : shell.PATH
  return runLocally({ command: shell.command, PATH, home: tmp, user: server.user })
}

const snapshot = (root: string): string[] => treeSnapshot(root)

function plan(root: string, id: string, expectedEntries: number): DeployPlan {
  return testDeployPlan(root, {
    releaseId: id,
    keep: 3,
    lockToken: `token-${id}`,
    lockOwner: `{"token":"token-${id}"}`,
    expectedEntries,
    incremental: true,
    controlFolder: controlFolderName()
  })
}

/** One deploy of the workspace as it is now; returns what was sent and how. */
async function deploy(runner: ScriptRunner, ws: string, root: string, id: string, overrides: Partial<DeployPlan> = {}) {
  const listing = await listSource(ws, [])
  const manifest = await manifestLines(ws, listing.entries)
  const log: string[] = []
  const p = { ...plan(root, id, expectedFindLines(listing.entries)), ...overrides }
  const prepared = await uploadAndPrepare(runner, p, Promise.resolve({ sourceDir: ws, listing, manifest }), (line) => log.push(line))
  expect(prepared.result.code, prepared.result.stderr).toBe(0)
  for (const script of [switchScript(prepared.plan), finishScript(prepared.plan)]) {
    const step = await runner.run(script)
    expect(step.code, step.stderr).toBe(0)
  }
  return { kind: prepared.kind, bytesSent: prepared.bytesSent, log: log.join('\n') }
}

/** Writes over the start of a file in place (same inode) and puts its times back, as `touch -r` would. */
function writeInPlace(file: string, text: string): void {
  const { atime, mtime } = fs.statSync(file)
  const fd = fs.openSync(file, 'r+')
  fs.writeSync(fd, text, 0)
  fs.closeSync(fd)
  fs.utimesSync(file, atime, mtime)
}

const write = (ws: string, rel: string, content: string | Buffer, mode?: number): void => {
  fs.mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true })
  fs.writeFileSync(path.join(ws, rel), content)
  if (mode !== undefined) fs.chmodSync(path.join(ws, rel), mode)
}

describe.each(SHELLS)('incremental uploads under $name', (shell) => {
  /** A runner, a fresh workspace and a fresh deploy root named after the case. */
  const site = (label: string) => ({ runner: localRunner(shell), ws: fs.mkdtempSync(path.join(tmp, 'ws-')), root: fs.mkdtempSync(path.join(tmp, `${shell.name}-${label}-`)) })

  it('keeps the release equal to the workspace through edits, deletions, renames and type changes', async () => {
    const runner = localRunner(shell)
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-root-`))
    write(ws, 'index.html', 'v1')
    write(ws, 'bin/run', '#!/bin/sh\n', 0o755)
    write(ws, 'assets/big.bin', Buffer.alloc(300_000, 7))
    write(ws, 'docs/a.md', 'a')
    write(ws, 'will-be-dir', 'file first')
    fs.mkdirSync(path.join(ws, 'will-be-file'))
    write(ws, 'will-be-file/inner', 'x')
    fs.mkdirSync(path.join(ws, 'empty'))
    fs.symlinkSync('index.html', path.join(ws, 'home'))
    fs.symlinkSync('docs', path.join(ws, 'will-be-real'))
    write(ws, 'name with spaces & $(dollar)', 's')
    write(ws, 'private/sub/secret.txt', 's1')
    fs.chmodSync(path.join(ws, 'private/sub'), 0o750)
    fs.chmodSync(path.join(ws, 'private'), 0o700)

    const first = await deploy(runner, ws, root, 'r1')
    expect(first.kind).toBe('full')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))

    // One small edit: only it crosses the wire (and a file deep in private folders keeps their modes).
    write(ws, 'index.html', 'v2 is here')
    write(ws, 'private/sub/secret.txt', 's2')
    const second = await deploy(runner, ws, root, 'r2')
    expect(second.kind).toBe('incremental')
    expect(second.bytesSent).toBeLessThan(10 + 64 * 1024)
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))

    // Deletions, a rename, mode changes, type changes in every direction, a new empty folder.
    fs.rmSync(path.join(ws, 'docs/a.md'))
    fs.renameSync(path.join(ws, 'assets/big.bin'), path.join(ws, 'assets/renamed.bin'))
    fs.chmodSync(path.join(ws, 'bin/run'), 0o700)
    fs.chmodSync(path.join(ws, 'assets'), 0o750)
    fs.rmSync(path.join(ws, 'will-be-dir'))
    write(ws, 'will-be-dir/now-inside', 'inside')
    fs.rmSync(path.join(ws, 'will-be-file'), { recursive: true })
    write(ws, 'will-be-file', 'now a file')
    fs.rmSync(path.join(ws, 'will-be-real'))
    fs.mkdirSync(path.join(ws, 'will-be-real'))
    fs.rmSync(path.join(ws, 'home'))
    fs.symlinkSync('bin/run', path.join(ws, 'home'))
    fs.mkdirSync(path.join(ws, 'new-empty'))
    const third = await deploy(runner, ws, root, 'r3')
    expect(third.kind).toBe('incremental')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
    // Older releases are untouched by the deltas that came after them.
    expect(fs.readFileSync(path.join(root, 'releases/r1/index.html'), 'utf8')).toBe('v1')
    expect(fs.readFileSync(path.join(root, 'releases/r2/index.html'), 'utf8')).toBe('v2 is here')
  })

  it('a workspace with its own top-level .atomic-deploy-control folder, then file, deploys whole, full and incremental', async () => {
    const runner = localRunner(shell)
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-control-name-`))
    write(ws, 'index.html', 'v1')
    write(ws, '.atomic-deploy-control/add', 'the workspace says so')
    write(ws, '.atomic-deploy-control/remove', 'index.html\n')
    const first = await deploy(runner, ws, root, 'r1')
    expect(first.kind).toBe('full')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
    write(ws, 'index.html', 'v2')
    write(ws, '.atomic-deploy-control/add', 'changed')
    const second = await deploy(runner, ws, root, 'r2')
    expect(second.kind).toBe('incremental')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
    fs.rmSync(path.join(ws, '.atomic-deploy-control'), { recursive: true })
    write(ws, '.atomic-deploy-control', 'now a file')
    const third = await deploy(runner, ws, root, 'r3')
    expect(third.kind).toBe('incremental')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
    expect(fs.readFileSync(path.join(root, 'current/.atomic-deploy-control'), 'utf8')).toBe('now a file')
  })

  it('a corrupted or deleted cache falls back to a full upload and still makes the right tree', async () => {
    const runner = localRunner(shell)
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-corrupt-`))
    write(ws, 'a.txt', 'a1')
    write(ws, 'b/c.txt', 'c1')
    await deploy(runner, ws, root, 'r1')

    // Someone writes into the cache right after the deploy: the stamp waited for the file clock
    // (whole seconds with BusyBox) to pass it, so any write after the deploy is after the stamp.
    write(root, '.atomic-deploy/cache/b/c.txt', 'tampered')
    write(ws, 'a.txt', 'a2')
    const afterTamper = await deploy(runner, ws, root, 'r2')
    expect(afterTamper.kind).toBe('full')
    expect(afterTamper.log).toContain('changed after it was made')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))

    // A file removed from the cache behind its back, with the stamp still newer: the release
    // built from it is one entry short of the workspace.
    const lose = () => {
      fs.rmSync(path.join(root, '.atomic-deploy/cache/b/c.txt'))
      fs.utimesSync(path.join(root, '.atomic-deploy/cache/b'), new Date(0), new Date(0))
      fs.utimesSync(path.join(root, '.atomic-deploy/cache'), new Date(0), new Date(0))
    }
    lose()
    fs.rmSync(path.join(root, '.atomic-deploy/spare'), { recursive: true })
    write(ws, 'a.txt', 'a3')
    const afterLoss = await deploy(runner, ws, root, 'r3')
    expect(afterLoss.kind).toBe('full')
    expect(afterLoss.log).toContain('the release built from the upload cache has')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))

    // The same loss with the spare copy made before it: the release built from the spare is
    // whole, and the cache is counted after the changes, one entry short.
    lose()
    write(ws, 'a.txt', 'a3b')
    const afterLossWithSpare = await deploy(runner, ws, root, 'r3b')
    expect(afterLossWithSpare.log).toContain('using the spare copy of the cache made after the last deploy')
    expect(afterLossWithSpare.kind).toBe('full')
    expect(afterLossWithSpare.log).toMatch(/the upload cache has \d+ entries after the changes, the workspace \d+/)
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))

    // The whole cache gone.
    fs.rmSync(path.join(root, '.atomic-deploy/cache'), { recursive: true })
    write(ws, 'a.txt', 'a4')
    const afterDelete = await deploy(runner, ws, root, 'r4')
    expect(afterDelete.kind).toBe('full')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))

    // And it is usable again afterwards.
    write(ws, 'a.txt', 'a5')
    expect((await deploy(runner, ws, root, 'r5')).kind).toBe('incremental')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
  })

  it('a file changed in the cache with its modification time put back is caught, and the release is right', async () => {
    const runner = localRunner(shell)
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-ctime-`))
    write(ws, 'a.txt', 'a1')
    write(ws, 'b/c.txt', 'c1')
    await deploy(runner, ws, root, 'r1')

    // Right after the deploy (see above), as `touch -r` would do it.
    writeInPlace(path.join(root, '.atomic-deploy/cache/b/c.txt'), 'c9')
    write(ws, 'a.txt', 'a2')
    const next = await deploy(runner, ws, root, 'r2')
    expect(next.kind).toBe('full')
    expect(next.log).toContain('changed after it was made')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
  })

  it('with hardlink-releases, linking, shared links and pruning (which change the ctime of shared files) keep the cache usable', async () => {
    const runner = localRunner(shell)
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-linked-`))
    write(ws, 'same.txt', 'same')
    write(ws, 'config.ini', 'seed')
    const linked = { hardlinkRelease: true, keep: 2, shared: [{ path: 'config.ini', isDirectory: false }] }
    for (let i = 1; i <= 5; i++) {
      write(ws, 'changes.txt', `v${i}`)
      const run = await deploy(runner, ws, root, `r${i}`, linked)
      expect(run.kind, run.log).toBe(i === 1 ? 'full' : 'incremental')
      expect(fs.readFileSync(path.join(root, 'current/changes.txt'), 'utf8')).toBe(`v${i}`)
    }
    expect(fs.readdirSync(path.join(root, 'releases')).sort()).toEqual(['r4', 'r5'])
  })

  it('incremental deploys work on read-only folders (555, files 444) as a user that permissions bind', async () => {
    // Root may write anywhere: the server runs as nobody when the tests run as root.
    const user = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined
    if (user) fs.chmodSync(tmp, 0o755)
    // BusyBox tar cannot unpack a read-only folder's files at all (it makes the folder read-only
    // first), so not even the first, full upload works with it: BusyBox's sh, cp, rm, find, with GNU tar.
    const gnuTar = fs.mkdtempSync(path.join(tmp, 'gnu-tar-'))
    fs.symlinkSync('/bin/tar', path.join(gnuTar, 'tar'))
    fs.chmodSync(gnuTar, 0o755)
    const runner = localRunner(shell, { user, pathBefore: gnuTar })
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-read-only-`))
    if (user) fs.chownSync(root, user.uid, user.gid)
    write(ws, 'vendor/lib/a.php', 'a1', 0o444)
    write(ws, 'vendor/lib/b.php', 'b1', 0o444)
    write(ws, 'vendor/gone/x.txt', 'x', 0o444)
    write(ws, 'top.txt', 't1')
    const setModes = (mode: number, ...dirs: string[]): void => dirs.forEach((dir) => fs.chmodSync(path.join(ws, dir), mode))
    setModes(0o555, 'vendor/lib', 'vendor/gone', 'vendor')
    expect((await deploy(runner, ws, root, 'r1')).kind).toBe('full')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))

    // Changed, removed and new files in read-only folders, a read-only tree removed, a new read-only folder.
    setModes(0o755, 'vendor', 'vendor/lib', 'vendor/gone')
    fs.rmSync(path.join(ws, 'vendor/lib/a.php'))
    write(ws, 'vendor/lib/a.php', 'a2', 0o444)
    fs.rmSync(path.join(ws, 'vendor/lib/b.php'))
    write(ws, 'vendor/lib/c.php', 'c1', 0o444)
    fs.rmSync(path.join(ws, 'vendor/gone'), { recursive: true })
    write(ws, 'vendor/new/n.php', 'n', 0o444)
    setModes(0o555, 'vendor/new', 'vendor/lib', 'vendor')
    const second = await deploy(runner, ws, root, 'r2')
    expect(second.kind, second.log).toBe('incremental')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))

    // Only a deletion in a read-only folder (which itself is not sent), and a read-only folder made writable.
    setModes(0o755, 'vendor/new')
    fs.rmSync(path.join(ws, 'vendor/new/n.php'))
    setModes(0o555, 'vendor/new')
    setModes(0o755, 'vendor/lib')
    const third = await deploy(runner, ws, root, 'r3')
    expect(third.kind, third.log).toBe('incremental')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
    // And the cache is still what the next deploy needs.
    write(ws, 'top.txt', 't2')
    const fourth = await deploy(runner, ws, root, 'r4')
    expect(fourth.kind, fourth.log).toBe('incremental')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
  })

  it('a failure while building the release from the cache falls back to a full upload in the same run, naming the error', async () => {
    // A cp that fails to read the cache, as a damaged cache would make it.
    const shim = cpShim(shell, 'failing-cp', (realCp) => [
      'case " $* " in *"/.atomic-deploy/cache/. "*) echo "cp: cannot read the cache (made to fail)" >&2; exit 1 ;; esac',
      `exec ${realCp} "$@"`
    ])
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-build-fails-`))
    write(ws, 'a.txt', 'a1')
    await deploy(localRunner(shell), ws, root, 'r1')
    // Without the spare copy of the cache, the release is copied from the cache.
    fs.rmSync(path.join(root, '.atomic-deploy/spare'), { recursive: true })
    write(ws, 'a.txt', 'a2')
    const next = await deploy(localRunner(shell, { pathBefore: shim }), ws, root, 'r2')
    expect(next.kind).toBe('full')
    expect(next.log).toContain('cannot read the cache (made to fail); sending everything instead')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
    expect((await deploy(localRunner(shell), ws, root, 'r3')).kind).toBe('incremental')
  })

  it('works for a deploy path holding a backslash (GNU sha256sum escapes such names)', async () => {
    const runner = localRunner(shell)
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
    const root = path.join(fs.mkdtempSync(path.join(tmp, `${shell.name}-backslash-`)), 'back\\slash\\n')
    write(ws, 'a.txt', 'a1')
    write(ws, 'b/c.txt', 'c1')
    expect((await deploy(runner, ws, root, 'r1')).kind).toBe('full')
    write(ws, 'a.txt', 'a2')
    fs.rmSync(path.join(ws, 'b/c.txt'))
    const second = await deploy(runner, ws, root, 'r2')
    expect(second.log).toContain('incremental upload')
    expect(second.kind).toBe('incremental')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
  })

  it('a full deploy writes the upload once; a write into a release file in place (same size, mtime put back) never reaches a later release', async () => {
    const { runner, ws, root } = site('write-once')
    write(ws, 'a.txt', 'a1')
    write(ws, 'b/c.txt', 'c1')
    expect((await deploy(runner, ws, root, 'r1')).kind).toBe('full')
    const inRelease = path.join(root, 'releases/r1/b/c.txt')
    expect(fs.statSync(inRelease).ino).toBe(fs.statSync(path.join(root, '.atomic-deploy/cache/b/c.txt')).ino)

    // The app writes into its release in place and puts the mtime back.
    writeInPlace(inRelease, 'c9')
    write(ws, 'a.txt', 'a2')
    const next = await deploy(runner, ws, root, 'r2')
    expect(next.kind).toBe('full')
    expect(next.log).toContain('files in the cache were changed after it was made')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
    expect(fs.readFileSync(path.join(root, 'releases/r1/b/c.txt'), 'utf8')).toBe('c9')

    write(ws, 'a.txt', 'a3')
    expect((await deploy(runner, ws, root, 'r3')).kind).toBe('incremental')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
  })

  it('a new cache whose stamp cannot wait past its clock tick keeps no stamp: a hook write in that tick never reaches a later release', async () => {
    // A touch that fails for wait_past's tick file only: the stamp itself is made.
    const shim = fs.mkdtempSync(path.join(tmp, 'failing-touch-'))
    const realTouch = shell.name === 'busybox' ? 'busybox touch' : '/bin/touch'
    fs.writeFileSync(path.join(shim, 'touch'), ['#!/bin/sh', 'for arg do case $arg in *cache.stamp.tick) exit 1 ;; esac; done', `exec ${realTouch} "$@"`, ''].join('\n'), {
      mode: 0o755
    })
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-stamp-fails-`))
    write(ws, 'a.txt', 'a1')
    write(ws, 'changes.txt', 'v1')
    // In the stamp's tick (BusyBox's stat reads whole seconds): same size, mtime put back.
    const hook = "printf a9 | dd of=a.txt conv=notrunc 2>/dev/null; touch -d '2001-01-01' a.txt"
    const first = await deploy(localRunner(shell, { pathBefore: shim }), ws, root, 'r1', { beforeActivate: hook })
    expect(first.log).toContain('the upload cache could not be stamped; the next deploy uploads everything')
    expect(fs.existsSync(path.join(root, '.atomic-deploy/cache.stamp'))).toBe(false)
    write(ws, 'changes.txt', 'v2')
    expect((await deploy(localRunner(shell), ws, root, 'r2')).kind).toBe('full')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
  })

  it('a group, mtime or ACL given to a file of the release the cache shares its files with never reaches a later release', async () => {
    const { runner, ws, root } = site('metadata')
    write(ws, 'a.txt', 'a1')
    write(ws, 'b/c.txt', 'c1')
    const hasSetfacl = spawnSync('sh', ['-c', 'command -v setfacl'], { stdio: 'ignore' }).status === 0
    const changes: Array<[string, (file: string) => void]> = [
      ['group', (file) => fs.chownSync(file, fs.statSync(file).uid, 65534)],
      ['mtime', (file) => fs.utimesSync(file, new Date('2001-01-01'), new Date('2001-01-01'))],
      ...(hasSetfacl ? ([['acl', (file: string) => execFileSync('setfacl', ['-m', 'u:nobody:r--', file])]] as Array<[string, (file: string) => void]>) : [])
    ]
    let id = 0
    expect((await deploy(runner, ws, root, `r${++id}`)).kind).toBe('full')
    for (const [what, change] of changes) {
      change(path.join(fs.realpathSync(path.join(root, 'current')), 'b/c.txt'))
      write(ws, 'a.txt', `a-${what}`)
      const next = await deploy(runner, ws, root, `r${++id}`)
      // BusyBox cp copies no ACL: there the release is right without a full upload.
      if (!(what === 'acl' && shell.name === 'busybox')) expect(next.kind, `${what}: ${next.log}`).toBe('full')
      const inRelease = fs.statSync(path.join(root, `releases/r${id}/b/c.txt`))
      const inWorkspace = fs.statSync(path.join(ws, 'b/c.txt'))
      expect([inRelease.gid, Math.floor(inRelease.mtimeMs / 1000)]).toEqual([process.getgid!(), Math.floor(inWorkspace.mtimeMs / 1000)])
      if (hasSetfacl) expect(execFileSync('getfacl', ['-cp', path.join(root, `releases/r${id}/b/c.txt`)], { encoding: 'utf8' })).not.toContain('nobody')
    }
  })

  it('pruning the release the cache shares its files with, or a file the app deletes there, keeps the cache usable (changed ctimes are checked against the manifest)', async () => {
    const { runner, ws, root } = site('prune-shared')
    write(ws, 'a.txt', 'a1')
    write(ws, 'b/c.txt', 'c1')
    write(ws, 'b/d.bin', Buffer.alloc(70000, 7), 0o640)
    expect((await deploy(runner, ws, root, 'r1', { keep: 2 })).kind).toBe('full')
    fs.rmSync(path.join(root, 'releases/r1/b/c.txt'))
    for (let i = 2; i <= 4; i++) {
      write(ws, 'changes.txt', `v${i}`)
      const run = await deploy(runner, ws, root, `r${i}`, { keep: 2 })
      expect(run.kind, run.log).toBe('incremental')
      expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
    }
    expect(fs.readdirSync(path.join(root, 'releases')).sort()).toEqual(['r3', 'r4'])
  })

  it('a shared file seeded from a full upload is a copy of its own: editing it in place leaves the cache usable', async () => {
    const { runner, ws, root } = site('seeded')
    write(ws, 'a.txt', 'a1')
    write(ws, 'config.ini', 'seed')
    const shared = [{ path: 'config.ini', isDirectory: false }]
    expect((await deploy(runner, ws, root, 'r1', { shared })).kind).toBe('full')
    const seeded = path.join(root, 'shared/config.ini')
    expect(fs.statSync(seeded).ino).not.toBe(fs.statSync(path.join(root, '.atomic-deploy/cache/config.ini')).ino)
    writeInPlace(seeded, 'edit')
    write(ws, 'a.txt', 'a2')
    const next = await deploy(runner, ws, root, 'r2', { shared })
    expect(next.kind, next.log).toBe('incremental')
    expect(fs.readFileSync(path.join(root, 'current/config.ini'), 'utf8')).toBe('edit')
  })

  it('an app writing into the release the cache shares its files with while the next release is copied from it is caught after the copy', async () => {
    // A cp that lets the app write (in place, same size) just before it copies the cache.
    const shim = cpShim(shell, 'writing-cp', (realCp) => [
      'for arg do case $arg in */.atomic-deploy/cache/.) printf c9 >"${arg%/.atomic-deploy/cache/.}/releases/r1/b/c.txt" ;; esac; done',
      `exec ${realCp} "$@"`
    ])
    const { ws, root } = site('write-during-copy')
    write(ws, 'a.txt', 'a1')
    write(ws, 'b/c.txt', 'c1')
    await deploy(localRunner(shell), ws, root, 'r1')
    // Without the spare copy of the cache, the release is copied from the cache.
    fs.rmSync(path.join(root, '.atomic-deploy/spare'), { recursive: true })
    write(ws, 'a.txt', 'a2')
    const next = await deploy(localRunner(shell, { pathBefore: shim }), ws, root, 'r2')
    expect(fs.readFileSync(path.join(root, 'releases/r1/b/c.txt'), 'utf8')).toBe('c9')
    expect(next.kind).toBe('full')
    expect(next.log).toContain('a file of the upload cache changed while the release was copied from it')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
  })

  it('an app writing into the release the cache shares its files with while the next release is built from the spare: that release is right, and the deploy after it catches the cache', async () => {
    // A cp that lets the app write (in place, same size) as the changes go into the spare.
    const shim = cpShim(shell, 'writing-cp-spare', (realCp) => [
      'for arg do case $arg in */.atomic-deploy/staging/r2/) printf c9 >"${arg%/.atomic-deploy/staging/r2/}/releases/r1/b/c.txt" ;; esac; done',
      `exec ${realCp} "$@"`
    ])
    const { ws, root } = site('write-during-spare-build')
    write(ws, 'a.txt', 'a1')
    write(ws, 'b/c.txt', 'c1')
    await deploy(localRunner(shell), ws, root, 'r1')
    write(ws, 'a.txt', 'a2')
    const next = await deploy(localRunner(shell, { pathBefore: shim }), ws, root, 'r2')
    expect(next.kind).toBe('incremental')
    expect(next.log).toContain('using the spare copy of the cache')
    expect(fs.readFileSync(path.join(root, 'releases/r1/b/c.txt'), 'utf8')).toBe('c9')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
    write(ws, 'a.txt', 'a3')
    const after = await deploy(localRunner(shell), ws, root, 'r3')
    expect(after.kind).toBe('full')
    expect(after.log).toContain('files in the cache were changed after it was made')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
  })

  it('with hardlink-releases the release shares unchanged files with the cache, and changed ones do not leak into old releases', async () => {
    const runner = localRunner(shell)
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-hardlink-`))
    write(ws, 'same.txt', 'same')
    write(ws, 'changes.txt', 'one')
    await deploy(runner, ws, root, 'r1', { hardlinkRelease: true })
    write(ws, 'changes.txt', 'two')
    const second = await deploy(runner, ws, root, 'r2', { hardlinkRelease: true })
    expect(second.kind).toBe('incremental')
    expect(fs.statSync(path.join(root, 'releases/r2/same.txt')).ino).toBe(fs.statSync(path.join(root, '.atomic-deploy/cache/same.txt')).ino)
    expect(fs.readFileSync(path.join(root, 'releases/r1/changes.txt'), 'utf8')).toBe('one')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
    // The release is linked, not copied: no spare copy is made for it.
    expect(fs.existsSync(path.join(root, '.atomic-deploy/spare'))).toBe(false)
  })

  it("the next deploy builds its release in the spare copy of the cache made after the last one: files of its own, never the cache's", async () => {
    const { runner, ws, root } = site('spare')
    write(ws, 'a.txt', 'a1')
    write(ws, 'b/c.txt', 'c1')
    await deploy(runner, ws, root, 'r1')
    expect(fs.readFileSync(path.join(root, '.atomic-deploy/spare/b/c.txt'), 'utf8')).toBe('c1')
    write(ws, 'a.txt', 'a2')
    const next = await deploy(runner, ws, root, 'r2')
    expect(next.kind).toBe('incremental')
    expect(next.log).toContain('using the spare copy of the cache made after the last deploy')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
    const inode = (rel: string) => fs.statSync(path.join(root, rel)).ino
    expect(inode('releases/r2/b/c.txt')).not.toBe(inode('.atomic-deploy/cache/b/c.txt'))
    expect(inode('releases/r2/b/c.txt')).not.toBe(inode('releases/r1/b/c.txt'))
    // A new spare, made after r2, of the cache r2 left.
    expect(fs.readFileSync(path.join(root, '.atomic-deploy/spare/a.txt'), 'utf8')).toBe('a2')
    expect(inode('.atomic-deploy/spare/a.txt')).not.toBe(inode('.atomic-deploy/cache/a.txt'))

    // A write into the spare itself after it was made: it is not used.
    writeInPlace(path.join(root, '.atomic-deploy/spare/b/c.txt'), 'c9')
    write(ws, 'a.txt', 'a3')
    const third = await deploy(runner, ws, root, 'r3')
    expect(third.kind).toBe('incremental')
    expect(third.log).toContain('the spare copy changed after it was made; copying the cache')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
  })

  it.each([
    ['', false],
    [', even after a deploy that failed once it had checked the cache (and moved its stamp)', true]
  ])(
    'an app write into a release file the cache shares, copied into the spare while it lasted and undone before the next deploy, never reaches a release%s',
    async (_, failedBetween) => {
      const shim = appWriteDuringSpareCopy(shell, 'r1')
      const { ws, root } = site('spare-write')
      write(ws, 'a.txt', 'a1')
      write(ws, 'b/c.txt', 'c1')
      await deploy(localRunner(shell, { pathBefore: shim }), ws, root, 'r1')
      expect(fs.readFileSync(path.join(root, '.atomic-deploy/spare/b/c.txt'), 'utf8')).toBe('c9')
      expect(fs.readFileSync(path.join(root, 'releases/r1/b/c.txt'), 'utf8')).toBe('c1')
      if (failedBetween) {
        const tarShim = failingDeltaTar(shell)
        write(ws, 'a.txt', 'a1b')
        await expect(deploy(localRunner(shell, { pathBefore: tarShim }), ws, root, 'r1b')).rejects.toThrow(/unpacking the upload failed/)
      }
      write(ws, 'a.txt', 'a2')
      const next = await deploy(localRunner(shell), ws, root, 'r2')
      expect(next.kind).toBe('incremental')
      expect(next.log).toContain('the spare copy holds a file that changed in the cache while it was copied; copying the cache')
      expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
      expect(fs.readFileSync(path.join(root, 'releases/r2/b/c.txt'), 'utf8')).toBe('c1')
    }
  )

  it('no spare copy is made where it would leave less free space than the cache takes', async () => {
    // A df that reports 10 KiB free.
    const shim = fs.mkdtempSync(path.join(tmp, 'full-df-'))
    fs.writeFileSync(path.join(shim, 'df'), ['#!/bin/sh', 'printf "Filesystem 1024-blocks Used Available Capacity Mounted on\\nfake 1000 990 10 99%% /\\n"', ''].join('\n'), {
      mode: 0o755
    })
    const { ws, root } = site('spare-room')
    write(ws, 'a.txt', 'a1')
    write(ws, 'big.bin', Buffer.alloc(100_000, 1))
    await deploy(localRunner(shell, { pathBefore: shim }), ws, root, 'r1')
    expect(fs.existsSync(path.join(root, '.atomic-deploy/spare'))).toBe(false)
    expect(fs.readFileSync(path.join(root, '.atomic-deploy/spare.log'), 'utf8')).toMatch(/not enough free space for a spare copy \(10 KiB free, the cache takes \d+ KiB\)/)
    write(ws, 'a.txt', 'a2')
    const next = await deploy(localRunner(shell), ws, root, 'r2')
    expect(next.kind).toBe('incremental')
    expect(next.log).not.toContain('using the spare copy')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
  })

  it('a copy stuck past the 10 s a deploy waits for it changes nothing of the newer spare when it wakes up', async () => {
    const { ws, root } = site('spare-stale')
    const flag = path.join(tmp, `stale-flag-${shell.name}`)
    // A du that blocks until the test lets it go: only r0's copy runs with it.
    const duShim = fs.mkdtempSync(path.join(tmp, 'stuck-du-'))
    const realDu = shell.name === 'busybox' ? 'busybox du' : '/usr/bin/du'
    fs.writeFileSync(path.join(duShim, 'du'), ['#!/bin/sh', `while [ ! -e '${flag}' ]; do sleep 0.1; done`, `exec ${realDu} "$@"`, ''].join('\n'), { mode: 0o755 })
    write(ws, 'a.txt', 'a0')
    write(ws, 'b/c.txt', 'c1')
    await deploy(runLocally({ command: shell.command, PATH: `${duShim}:${shell.PATH}`, home: tmp, settleSpareCopies: false }), ws, root, 'r0')
    const stuck = Number(fs.readFileSync(path.join(root, '.atomic-deploy/spare.lock/pid'), 'utf8'))
    // r1 gives up waiting for the stuck copy; its own copy takes in an app write into r0 while it lasts.
    const shim = appWriteDuringSpareCopy(shell, 'r0')
    write(ws, 'a.txt', 'a1')
    await deploy(localRunner(shell, { pathBefore: shim }), ws, root, 'r1')
    expect(fs.readFileSync(path.join(root, '.atomic-deploy/spare/b/c.txt'), 'utf8')).toBe('c9')
    expect(running(stuck)).toBe(true)
    // r1b fails after its check of the cache moved the stamp.
    const tarShim = failingDeltaTar(shell)
    write(ws, 'a.txt', 'a1b')
    await expect(deploy(localRunner(shell, { pathBefore: tarShim }), ws, root, 'r1b')).rejects.toThrow(/unpacking the upload failed/)
    // The stuck copy wakes up and ends.
    fs.writeFileSync(flag, '')
    for (let i = 0; i < 600 && running(stuck); i++) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(running(stuck)).toBe(false)
    write(ws, 'a.txt', 'a2')
    const next = await deploy(localRunner(shell), ws, root, 'r2')
    expect(next.log).toContain('the spare copy holds a file that changed in the cache while it was copied; copying the cache')
    expect(fs.readFileSync(path.join(root, 'releases/r2/b/c.txt'), 'utf8')).toBe('c1')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
  }, 120_000)

  it('a deploy right after another stops the spare copy still running, and goes on without it', async () => {
    // A cp that takes 60 s to copy the cache into the spare.
    const shim = cpShim(shell, 'slow-cp', (realCp) => ['case " $* " in *"/.atomic-deploy/spare.new."*"/ "*) sleep 60 ;; esac', `exec ${realCp} "$@"`])
    const { ws, root } = site('spare-stop')
    write(ws, 'a.txt', 'a1')
    const slow = runLocally({ command: shell.command, PATH: `${shim}:${shell.PATH}`, home: tmp, settleSpareCopies: false })
    await deploy(slow, ws, root, 'r1')
    const pid = Number(fs.readFileSync(path.join(root, '.atomic-deploy/spare.lock/pid'), 'utf8'))
    expect(running(pid)).toBe(true)

    write(ws, 'a.txt', 'a2')
    const started = Date.now()
    const next = await deploy(localRunner(shell), ws, root, 'r2')
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(running(pid)).toBe(false)
    expect(next.kind).toBe('incremental')
    expect(next.log).not.toContain('using the spare copy')
    expect(snapshot(path.join(root, 'current'))).toEqual(snapshot(ws))
    expect(fs.readdirSync(path.join(root, '.atomic-deploy')).filter((name) => /^spare\.(new|trash)/.test(name))).toEqual([])
    // r2's own spare was made, and the deploy after it uses it.
    write(ws, 'a.txt', 'a3')
    expect((await deploy(localRunner(shell), ws, root, 'r3')).log).toContain('using the spare copy of the cache made after the last deploy')
  })
})

/** A folder holding a `cp` for the server's PATH: the lines given (told the real cp and the folder), as a sh script. */
function cpShim(shell: (typeof SHELLS)[number], label: string, lines: (realCp: string, dir: string) => string[]): string {
  const dir = fs.mkdtempSync(path.join(tmp, `${label}-`))
  const realCp = shell.name === 'busybox' ? 'busybox cp' : '/bin/cp'
  fs.writeFileSync(path.join(dir, 'cp'), ['#!/bin/sh', ...lines(realCp, dir), ''].join('\n'), { mode: 0o755 })
  return dir
}

/**
 * A cp for the server's PATH that, while it copies the cache into a spare, lets the app write
 * into RELEASE/b/c.txt in place (same size, mtime put back), then undoes the write.
 */
function appWriteDuringSpareCopy(shell: (typeof SHELLS)[number], release: string): string {
  return cpShim(shell, 'spare-cp', (realCp, dir) => [
    `for arg do case $arg in */.atomic-deploy/spare.new.*/) file="\${arg%/.atomic-deploy/spare.new.*/}/releases/${release}/b/c.txt" ;; esac; done`,
    `[ -n "\${file:-}" ] || exec ${realCp} "$@"`,
    `touch -r "$file" "${dir}/mtime" && printf c9 >"$file" && touch -r "${dir}/mtime" "$file" || exit 1`,
    `${realCp} "$@"`,
    'status=$?',
    `printf c1 >"$file" && touch -r "${dir}/mtime" "$file" || exit 1`,
    'exit $status'
  ])
}

/** A tar for the server's PATH that fails unpacking the changes, as a dropped connection would make it. */
function failingDeltaTar(shell: (typeof SHELLS)[number]): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'failing-tar-'))
  const realTar = shell.name === 'busybox' ? 'busybox tar' : '/bin/tar'
  fs.writeFileSync(path.join(dir, 'tar'), ['#!/bin/sh', 'case $PWD in *.delta) cat >/dev/null; exit 2 ;; esac', `exec ${realTar} "$@"`, ''].join('\n'), { mode: 0o755 })
  return dir
}

/** A process that is there and not a zombie. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}
