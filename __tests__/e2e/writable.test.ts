/**
 * writable through the committed bundle against a real sshd, with a second
 * local user standing for www-data (created here if missing; the tests run
 * as root, as CI does). After a deploy that user can write into the writable
 * folders, one in the release and one inside a shared folder. With acl, what
 * it creates there does not stop the prune: the release holding it is
 * removed. With chmod and chgrp the prune says exactly what it could not
 * remove and why, and later deploys still succeed. acl on a server without
 * setfacl fails before anything on the server changes.
 */
import { execFileSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { ActionRun, connectionInputs, makeWorkspace, runAction } from './run-action'
import { treeSnapshot } from '../support/tree'

const WEB_USER = 'atomicweb'
const servers: Record<string, TestServer> = {}
let bin: string | undefined

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('writable.test.ts needs root: it creates a second user, standing for www-data.')
  try {
    execFileSync('id', ['-u', WEB_USER], { stdio: 'ignore' })
  } catch {
    execFileSync('useradd', ['--no-create-home', '--shell', '/bin/sh', WEB_USER], { stdio: 'inherit' })
  }
  servers.stock = await startSshd()
  // chgrp gives the folders to the web user's group, which the deploy user must be in.
  execFileSync('usermod', ['-aG', WEB_USER, servers.stock.username])
  bin = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-writable-busybox-'))
  fs.chmodSync(bin, 0o755)
  execFileSync('busybox', ['--install', '-s', bin])
  servers.noSetfacl = await startSshd({ extraConfig: `SetEnv PATH=${bin}` })
}, 60_000)

afterAll(async () => {
  await Promise.all(Object.values(servers).map((server) => server.stop()))
  if (bin) fs.rmSync(bin, { recursive: true, force: true })
})

/** As the web server would: its own umask, writing files and a folder of its own. */
function writeAsWebUser(release: string): void {
  const script = 'umask 022; mkdir -p "$1/cache/views" && echo v > "$1/cache/views/page.php" && echo log >> "$1/storage/logs/app.log"'
  execFileSync('runuser', ['-u', WEB_USER, '--', 'sh', '-c', script, 'sh', release], { stdio: 'pipe' })
}

/** A workspace the web user can read and traverse (the release root takes its mode). */
function workspace(id: string): string {
  const ws = makeWorkspace({ 'index.php': id })
  fs.chmodSync(ws, 0o755)
  return ws
}

function deploy(server: TestServer, root: string, id: string, mode: string): Promise<ActionRun> {
  return runAction({
    ...connectionInputs(server),
    path: root,
    'release-id': id,
    source: workspace(id),
    shared: 'storage/',
    writable: 'cache/\nstorage/logs/',
    'writable-mode': mode,
    'writable-user': WEB_USER,
    keep: '1'
  })
}

describe('writable', () => {
  it('acl: the web user writes there, and the releases holding what it made are pruned', async () => {
    const server = servers.stock
    const root = path.join(server.root, 'writable-acl')
    const first = await deploy(server, root, 'r1', 'acl')
    expect(first.code, first.stdout + first.stderr).toBe(0)
    writeAsWebUser(path.join(root, 'current'))
    expect(fs.statSync(path.join(root, 'releases', 'r1', 'cache', 'views')).uid).not.toBe(fs.statSync(root).uid)
    const second = await deploy(server, root, 'r2', 'acl')
    expect(second.code, second.stdout + second.stderr).toBe(0)
    expect(second.stdout + second.stderr).not.toContain('could not be removed')
    expect(fs.readdirSync(path.join(root, 'releases'))).toEqual(['r2'])
    expect(fs.existsSync(path.join(root, '.atomic-deploy', 'trash'))).toBe(false)
    // The new release is writable too, and so is the shared folder, which now holds the web user's log.
    writeAsWebUser(path.join(root, 'current'))
    expect(fs.readFileSync(path.join(root, 'shared', 'storage', 'logs', 'app.log'), 'utf8')).toBe('log\nlog\n')
  }, 120_000)

  it('acl: a folder the web user makes without group write (mkdir -m 755) stops the prune, and the prune says why', async () => {
    const server = servers.stock
    const root = path.join(server.root, 'writable-acl-755')
    const first = await deploy(server, root, 'r1', 'acl')
    expect(first.code, first.stdout + first.stderr).toBe(0)
    execFileSync('runuser', ['-u', WEB_USER, '--', 'sh', '-c', 'mkdir -m 755 "$1/cache/sub" && echo x > "$1/cache/sub/f"', 'sh', path.join(root, 'current')])
    const second = await deploy(server, root, 'r2', 'acl')
    const said = second.stdout + second.stderr
    expect(second.code, said).toBe(0)
    expect(said).toMatch(/cannot remove '[^']*\/r1\/cache\/sub\/f': Permission denied/)
    expect(said).toContain('folders writable-user made without group write (mkdir -m 755) deny the SSH user through the ACL mask')
  }, 120_000)

  it.each(['chmod', 'chgrp'])(
    '%s: the web user writes there; the prune names what it could not remove and why, and deploys go on',
    async (mode) => {
      const server = servers.stock
      const root = path.join(server.root, `writable-${mode}`)
      const first = await deploy(server, root, 'r1', mode)
      expect(first.code, first.stdout + first.stderr).toBe(0)
      writeAsWebUser(path.join(root, 'current'))
      const second = await deploy(server, root, 'r2', mode)
      const said = second.stdout + second.stderr
      expect(second.code, said).toBe(0)
      expect(said).toContain('warning: parts of releases/r1 (out of releases/, moved to')
      expect(said).toMatch(/cannot remove '[^']*\/r1\/cache\/views\/page\.php': Permission denied/)
      expect(said).toMatch(new RegExp(`owned by another user: d[rwxs-]{9}\\S* +\\d+ ${WEB_USER} .*/r1/cache/views`))
      expect(fs.readdirSync(path.join(root, 'releases'))).toEqual(['r2'])
      const third = await deploy(server, root, 'r3', mode)
      expect(third.code, third.stdout + third.stderr).toBe(0)
      expect(third.stdout + third.stderr).toContain('warning: parts of what earlier prunes left in the trash could not be removed')
      expect(fs.readdirSync(path.join(root, 'releases'))).toEqual(['r3'])
    },
    120_000
  )

  it('acl with hardlink-releases: the release gets its own copies of the files it opens; the cache and the other releases keep the workspace modes', async () => {
    const server = servers.stock
    const root = path.join(server.root, 'writable-hardlinked')
    const ws = makeWorkspace({ 'index.php': 'x', 'cache/.gitignore': '*\n' })
    fs.chmodSync(ws, 0o755)
    const run = (id: string): Promise<ActionRun> =>
      runAction({ ...connectionInputs(server), path: root, 'release-id': id, source: ws, writable: 'cache/', 'writable-user': WEB_USER, 'hardlink-releases': 'true' })
    for (const id of ['r1', 'r2']) {
      const result = await run(id)
      expect(result.code, result.stdout + result.stderr).toBe(0)
    }
    const file = (where: string): string => path.join(root, where, 'cache', '.gitignore')
    const acl = (where: string): string => execFileSync('getfacl', ['--omit-header', '--absolute-names', file(where)], { encoding: 'utf8' })
    // The release really was hard-linked from the cache: its other file is one inode with the cached one.
    expect(fs.statSync(path.join(root, 'releases', 'r2', 'index.php')).ino).toBe(fs.statSync(path.join(root, '.atomic-deploy', 'cache', 'index.php')).ino)
    for (const where of ['releases/r1', 'releases/r2']) expect(acl(where)).toContain(`user:${WEB_USER}:rw-`)
    expect(fs.statSync(file('releases/r2')).ino).not.toBe(fs.statSync(file('.atomic-deploy/cache')).ino)
    expect(acl('.atomic-deploy/cache')).not.toContain(WEB_USER)
    expect((fs.statSync(file('.atomic-deploy/cache')).mode & 0o7777).toString(8)).toBe('644')
  }, 120_000)

  it('chgrp with a writable-user whose group the SSH user is not in fails before anything on the server changes', async () => {
    const server = servers.stock
    const root = path.join(server.root, 'writable-chgrp-not-member')
    const plain = await runAction({ ...connectionInputs(server), path: root, 'release-id': 'r1', source: workspace('r1'), shared: 'storage/' })
    expect(plain.code, plain.stdout + plain.stderr).toBe(0)
    const before = treeSnapshot(root)
    const group = execFileSync('id', ['-gn', 'nobody'], { encoding: 'utf8' }).trim()
    const result = await runAction({
      ...connectionInputs(server),
      path: root,
      'release-id': 'r2',
      source: workspace('r2'),
      shared: 'storage/',
      writable: 'storage/logs/',
      'writable-mode': 'chgrp',
      'writable-user': 'nobody'
    })
    expect(result.code).not.toBe(0)
    expect(result.stdout + result.stderr).toContain(`writable-mode chgrp gives the folders to group ${group} of nobody, and user ${server.username} is not a member of it`)
    expect(treeSnapshot(root)).toEqual(before)
  }, 120_000)

  it('acl on a server without setfacl fails before anything on the server changes', async () => {
    const server = servers.noSetfacl
    const root = path.join(server.root, 'writable-no-setfacl')
    const plain = await runAction({ ...connectionInputs(server), path: root, 'release-id': 'r1', source: workspace('r1') })
    expect(plain.code, plain.stdout + plain.stderr).toBe(0)
    const before = treeSnapshot(root)
    const result = await deploy(server, root, 'r2', 'acl')
    expect(result.code).not.toBe(0)
    expect(result.stdout + result.stderr).toContain('writable-mode acl needs setfacl, which this server does not have')
    expect(treeSnapshot(root)).toEqual(before)
  }, 120_000)
})
