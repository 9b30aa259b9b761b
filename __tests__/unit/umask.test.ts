/**
 * The server's umask does not reach the release: under umask 077 and 027
 * (dash, BusyBox sh with BusyBox's tar and cp, bash; as a user permissions
 * bind), the real upload code and prepare script give the release root, its
 * folders and files the workspace's modes, through a full upload, an
 * incremental one built with cp -a and one built with hard links; the
 * folders the tool makes (the deploy path, releases/, shared/ and what it
 * creates in them, .atomic-deploy/) are 755.
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
import { DeployPlan } from '../../src/remote/plan'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-umask-'))
fs.chmodSync(tmp, 0o755)
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** One deploy of the workspace with two shared folders; it must succeed. Returns how it uploaded. */
async function deploy(runner: ScriptRunner, ws: string, root: string, id: string, overrides: Partial<DeployPlan>): Promise<string> {
  const shared = [
    { path: 'storage', isDirectory: true },
    { path: 'var/cache', isDirectory: true }
  ]
  const done = await deployWorkspace(runner, ws, root, id, { shared, ...overrides })
  expect(done.code, done.out).toBe(0)
  return done.kind
}

/** The release current points to: the workspace's tree and modes, its own root's mode included, plus the shared links. */
function expectWorkspaceModes(root: string, ws: string): void {
  const current = path.join(root, 'current')
  const links = ['storage -> ../../shared/storage', 'var/ 755', 'var/cache -> ../../../shared/var/cache']
  expect(treeSnapshot(current).sort()).toEqual([...treeSnapshot(ws), ...links].sort())
  expect(mode(fs.realpathSync(current))).toBe(mode(ws))
}

/** What the tool made for the deploy: 755, so that the web server's user gets to current/. */
function expectLayoutModes(root: string): void {
  for (const dir of ['.', 'releases', 'shared', '.atomic-deploy', 'shared/storage', 'shared/var', 'shared/var/cache']) {
    expect(`${dir} ${mode(path.join(root, dir))}`).toBe(`${dir} 755`)
  }
}

describe.each(serverShells(tmp))('under $name', (shell) => {
  it.each(['077', '027'])('with umask %s the release has the workspace modes and the layout is 755, full and incremental', async (umask) => {
    const user = unprivileged.ids()
    const runner = localRunner({ command: shell.command, PATH: shell.path, home: tmp, umask, user: user.uid === undefined ? undefined : { uid: user.uid, gid: user.gid! } })
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
    fs.chmodSync(ws, 0o755)
    writeWithMode(ws, 'index.html', 'v1', 0o644)
    folderWithMode(ws, 'css', 0o755)
    writeWithMode(ws, 'css/site.css', 'body{}', 0o664)
    folderWithMode(ws, 'app', 0o775)
    folderWithMode(ws, 'app/bin', 0o755)
    writeWithMode(ws, 'app/bin/run', '#!/bin/sh\n', 0o775)
    folderWithMode(ws, 'private', 0o750)
    writeWithMode(ws, 'private/key', 'k', 0o640)
    // The deploy path is missing: the tool makes it, in a folder the server's user owns.
    const parent = fs.mkdtempSync(path.join(tmp, `${shell.name}-${umask}-`))
    unprivileged.prepare(parent)
    const root = path.join(parent, 'site')

    expect(await deploy(runner, ws, root, 'r1', {})).toBe('full')
    // Positive control: the umask was in effect for what the tool leaves as the umask makes it.
    expect(mode(path.join(root, '.atomic-deploy/releases.log'))).toBe((0o666 & ~parseInt(umask, 8)).toString(8))
    expectWorkspaceModes(root, ws)
    expectLayoutModes(root)

    writeWithMode(ws, 'index.html', 'v2', 0o644)
    folderWithMode(ws, 'img', 0o755)
    writeWithMode(ws, 'img/logo.svg', '<svg/>', 0o644)
    expect(await deploy(runner, ws, root, 'r2', {})).toBe('incremental')
    expectWorkspaceModes(root, ws)
    expectLayoutModes(root)

    writeWithMode(ws, 'index.html', 'v3', 0o644)
    folderWithMode(ws, 'app/lib', 0o775)
    writeWithMode(ws, 'app/lib/a.js', 'a', 0o664)
    expect(await deploy(runner, ws, root, 'r3', { hardlinkRelease: true })).toBe('incremental')
    expectWorkspaceModes(root, ws)
    expectLayoutModes(root)
  })
})
