/**
 * Release modes in the cases users have beyond a plain umask: unusual
 * workspace root modes, secrets, setgid deploy folders, umask 002, a
 * read-only root. Real runs of the upload code and the prepare, switch and
 * finish scripts, as umask.test.ts runs them.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { localRunner } from '../support/local-runner'
import { deployWorkspace, folderWithMode, mode, writeWithMode } from '../support/mode-deploy'
import { serverShells, unprivileged } from '../support/shells'
import { treeSnapshot } from '../support/tree'
import { ScriptRunner } from '../../src/ssh/connection'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-release-modes-'))
fs.chmodSync(tmp, 0o755)
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

describe.each(serverShells(tmp))('under $name', (shell) => {
  const user = unprivileged.ids()
  const ids = user.uid === undefined ? undefined : { uid: user.uid, gid: user.gid! }
  const runnerFor = (umask: string): ScriptRunner => localRunner({ command: shell.command, PATH: shell.path, home: tmp, umask, user: ids })
  const site = (label: string): string => {
    const parent = fs.mkdtempSync(path.join(tmp, `${shell.name}-${label}-`))
    unprivileged.prepare(parent)
    return path.join(parent, 'site')
  }
  const workspace = (rootMode: number): string => {
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
    writeWithMode(ws, 'index.html', 'v1', 0o644)
    fs.chmodSync(ws, rootMode)
    return ws
  }

  it.each(['2775', '1777', '700', '750'])('a workspace root of mode %s gives the release root that mode', async (rootModeText) => {
    const rootMode = parseInt(rootModeText, 8)
    const ws = workspace(rootMode)
    const root = site('root')
    expect((await deployWorkspace(runnerFor('077'), ws, root, 'r1')).code).toBe(0)
    expect(mode(fs.realpathSync(path.join(root, 'current')))).toBe(rootMode.toString(8))
  })

  it('secrets (600 in a 700 folder) and read-only files keep their modes in full and incremental uploads, and the cache widens none', async () => {
    const ws = workspace(0o755)
    folderWithMode(ws, 'secret', 0o700)
    writeWithMode(ws, 'secret/key.pem', 'k', 0o600)
    writeWithMode(ws, '.env', 'A=1', 0o600)
    writeWithMode(ws, 'ro', 'r', 0o444)
    const root = site('secrets')
    const runner = runnerFor('000')
    expect((await deployWorkspace(runner, ws, root, 'r1')).kind).toBe('full')
    expect(treeSnapshot(path.join(root, 'current')).sort()).toEqual(treeSnapshot(ws).sort())
    writeWithMode(ws, 'index.html', 'v2', 0o644)
    writeWithMode(ws, 'secret/other.pem', 'o', 0o600)
    expect((await deployWorkspace(runner, ws, root, 'r2')).kind).toBe('incremental')
    expect(treeSnapshot(path.join(root, 'current')).sort()).toEqual(treeSnapshot(ws).sort())
    expect(treeSnapshot(path.join(root, '.atomic-deploy/cache')).sort()).toEqual(treeSnapshot(ws).sort())
  })

  it('a shared .env (600) and a shared 700 folder seeded from the release keep their modes; shared/ parents made keep only the umask write bits', async () => {
    const ws = workspace(0o755)
    writeWithMode(ws, '.env', 'SECRET=1', 0o600)
    folderWithMode(ws, 'var', 0o755)
    folderWithMode(ws, 'var/keys', 0o700)
    writeWithMode(ws, 'var/keys/k', 'k', 0o600)
    const root = site('sharedsecret')
    const shared = [
      { path: '.env', isDirectory: false },
      { path: 'var/keys', isDirectory: true }
    ]
    expect((await deployWorkspace(runnerFor('000'), ws, root, 'r1', { shared })).code).toBe(0)
    expect(mode(path.join(root, 'shared/.env'))).toBe('600')
    // umask 000 asks for world-writable new folders; make_dirs only ever adds read and traverse bits.
    expect(mode(path.join(root, 'shared/var'))).toBe('777')
    expect(mode(path.join(root, 'shared/var/keys'))).toBe('700')
    expect(mode(path.join(root, 'shared/var/keys/k'))).toBe('600')
    expect(mode(path.join(root, '.atomic-deploy/cache/.env'))).toBe('600')
  })

  it('an incremental deploy that only changes the modes of the root and of a folder gives both', async () => {
    const ws = workspace(0o755)
    folderWithMode(ws, 'app', 0o755)
    writeWithMode(ws, 'app/a', 'a', 0o644)
    const root = site('modeonly')
    const runner = runnerFor('077')
    expect((await deployWorkspace(runner, ws, root, 'r1')).kind).toBe('full')
    fs.chmodSync(ws, 0o750)
    fs.chmodSync(path.join(ws, 'app'), 0o710)
    fs.chmodSync(path.join(ws, 'app/a'), 0o640)
    expect((await deployWorkspace(runner, ws, root, 'r2')).kind).toBe('incremental')
    const current = fs.realpathSync(path.join(root, 'current'))
    expect(treeSnapshot(current).sort()).toEqual(treeSnapshot(ws).sort())
    expect(mode(current)).toBe('750')
    expect((await deployWorkspace(runner, ws, root, 'r3', { hardlinkRelease: true })).kind).toBe('incremental')
    expect(treeSnapshot(path.join(root, 'current')).sort()).toEqual(treeSnapshot(ws).sort())
  })

  it('a deploy path that exists with mode 750 is left 750', async () => {
    const ws = workspace(0o755)
    const root = site('existing')
    fs.mkdirSync(root)
    fs.chmodSync(root, 0o750)
    unprivileged.prepare(root)
    expect((await deployWorkspace(runnerFor('077'), ws, root, 'r1')).code).toBe(0)
    expect(mode(root)).toBe('750')
    expect(mode(path.join(root, 'releases'))).toBe('755')
  })

  it('a deploy path with g+s (a www-data group): the release root keeps the setgid bit the kernel gave it, on every server', async () => {
    const ws = workspace(0o755)
    const root = site('setgid')
    fs.mkdirSync(root)
    unprivileged.prepare(root)
    fs.chmodSync(root, 0o2755)
    expect((await deployWorkspace(runnerFor('022'), ws, root, 'r1')).code).toBe(0)
    expect(mode(path.join(root, 'releases'))).toBe('2755')
    expect(mode(path.join(root, 'shared'))).toBe('2755')
    const release = fs.realpathSync(path.join(root, 'current'))
    // GNU chmod keeps S_ISGID for a numeric mode, BusyBox's clears it: give_release_mode puts it back.
    expect(mode(release)).toBe('2755')
  })

  it('under umask 002 (a group-writable setup, e.g. deploy user and www-data share a group) a shared folder created empty is group-writable, as the umask asked', async () => {
    const ws = workspace(0o755)
    const root = site('umask002')
    expect((await deployWorkspace(runnerFor('002'), ws, root, 'r1', { shared: [{ path: 'storage', isDirectory: true }] })).code).toBe(0)
    expect(mode(path.join(root, 'shared/storage'))).toBe('775')
  })

  it('a read-only (555) workspace root: shared links, a before-activate hook, a failed deploy and the prune all work', async () => {
    const ws = workspace(0o555)
    const root = site('ro')
    const runner = runnerFor('077')
    const shared = [{ path: 'storage', isDirectory: true }]
    let log = ''
    for (const id of ['r1', 'r2', 'r3']) {
      const done = await deployWorkspace(runner, ws, root, id, { shared, keep: 1, beforeActivate: 'test -L storage' })
      expect(done.code, done.out).toBe(0)
      log = done.out
    }
    const failed = await deployWorkspace(runner, ws, root, 'r4', { shared, beforeActivate: 'exit 3' })
    expect(failed.code).not.toBe(0)
    expect(fs.existsSync(path.join(root, 'releases/r4'))).toBe(false)
    // A folder moved to another parent (releases/ -> .atomic-deploy/trash) needs write permission on itself ('..').
    expect(log).not.toMatch(/could not move releases/)
    expect(fs.readdirSync(path.join(root, 'releases')).sort()).toEqual(['r3'])
  })
})
