import { execFileSync } from 'child_process'
import * as fs from 'fs'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { connectionInputs, makeWorkspace, runAction } from './run-action'
import { LogLine, parseLogLines, parseObjects } from '../support/json'
import { treeSnapshot } from '../support/tree'

let server: TestServer

beforeAll(async () => {
  server = await startSshd()
})

afterAll(async () => {
  await server?.stop()
})

function readLog(root: string): LogLine[] {
  const file = path.join(root, '.atomic-deploy/releases.log')
  if (!fs.existsSync(file)) return []
  return parseLogLines(fs.readFileSync(file, 'utf8'))
}

const currentTarget = (root: string): string => fs.readlinkSync(path.join(root, 'current'))
const releasesOn = (root: string): string[] => fs.readdirSync(path.join(root, 'releases')).sort()

describe('deploy through dist/index.js against a real sshd', () => {
  it('deploys onto a disk-backed server tree, as users have, not tmpfs', () => {
    // tmpfs makes copies nearly free and hides what a real disk costs; the tests must see a real one.
    const type = execFileSync('stat', ['-f', '-c', '%T', server.root], { encoding: 'utf8' }).trim()
    expect(['tmpfs', 'ramfs'], `${server.root} is on ${type}: point TMPDIR at a folder on disk`).not.toContain(type)
  })

  it('first deploy uploads the tree, switches current and sets the outputs', async () => {
    const root = path.join(server.root, 'first')
    const ws = makeWorkspace({ 'index.html': 'v1', 'css/site.css': 'body{}', '.git/HEAD': 'ref', 'bin/run': '#!/bin/sh\n' })
    fs.chmodSync(path.join(ws, 'bin/run'), 0o755)
    fs.symlinkSync('index.html', path.join(ws, 'home.html'))
    const run = await runAction({ ...connectionInputs(server), path: root, source: ws, 'release-id': 'one' }, { env: { GITHUB_SHA: '0123456789abcdef', GITHUB_ACTOR: 'octocat' } })
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(run.outputs['release-id']).toBe('one')
    expect(run.outputs['release-path']).toBe(`${root}/releases/one`)
    expect(run.outputs['previous-release-id']).toBe('')
    expect(currentTarget(root)).toBe('releases/one')
    expect(fs.readFileSync(path.join(root, 'current/index.html'), 'utf8')).toBe('v1')
    expect(fs.readFileSync(path.join(root, 'current/css/site.css'), 'utf8')).toBe('body{}')
    expect(fs.existsSync(path.join(root, 'current/.git'))).toBe(false)
    expect(fs.statSync(path.join(root, 'current/bin/run')).mode & 0o777).toBe(0o755)
    expect(fs.readlinkSync(path.join(root, 'current/home.html'))).toBe('index.html')
    const log = readLog(root)
    expect(log.map((e) => e.event)).toEqual(['prepared', 'deployed'])
    expect(log[1]).toMatchObject({ event: 'deployed', id: 'one', sha: '0123456789abcdef', actor: 'octocat', user: server.username })
    expect(log[1].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(false)
  })

  it('second deploy switches to the new release and reports the previous one', async () => {
    const root = path.join(server.root, 'second')
    const inputs = { ...connectionInputs(server), path: root }
    const v1 = await runAction({ ...inputs, source: makeWorkspace({ 'index.html': 'v1' }), 'release-id': 'r1' })
    expect(v1.code, v1.stderr + v1.stdout).toBe(0)
    const v2 = await runAction({ ...inputs, source: makeWorkspace({ 'index.html': 'v2' }), 'release-id': 'r2' })
    expect(v2.code, v2.stderr + v2.stdout).toBe(0)
    expect(v2.outputs['previous-release-id']).toBe('r1')
    expect(currentTarget(root)).toBe('releases/r2')
    expect(fs.readFileSync(path.join(root, 'current/index.html'), 'utf8')).toBe('v2')
    expect(releasesOn(root)).toEqual(['r1', 'r2'])
  })

  it('default release id is UTC time and the short sha', async () => {
    const root = path.join(server.root, 'default-id')
    const run = await runAction({ ...connectionInputs(server), path: root, source: makeWorkspace({ a: '1' }) }, { env: { GITHUB_SHA: 'abcdef0123456789' } })
    expect(run.code, run.stderr + run.stdout).toBe(0)
    expect(run.outputs['release-id']).toMatch(/^\d{14}-abcdef0$/)
    expect(currentTarget(root)).toBe(`releases/${run.outputs['release-id']}`)
  })

  it('seeds shared paths on the first deploy, links them, and never overwrites shared data', async () => {
    const root = path.join(server.root, 'shared')
    const inputs = { ...connectionInputs(server), path: root, shared: 'storage/\nconfig/.env\nuploads/' }
    const first = await runAction({
      ...inputs,
      'release-id': 's1',
      source: makeWorkspace({ 'storage/app/seed.txt': 'from release', 'config/.env': 'APP=1', 'index.php': '1' })
    })
    expect(first.code, first.stderr + first.stdout).toBe(0)
    expect(fs.readFileSync(path.join(root, 'shared/storage/app/seed.txt'), 'utf8')).toBe('from release')
    expect(fs.readFileSync(path.join(root, 'shared/config/.env'), 'utf8')).toBe('APP=1')
    expect(fs.statSync(path.join(root, 'shared/uploads')).isDirectory()).toBe(true)
    expect(fs.readlinkSync(path.join(root, 'releases/s1/storage'))).toBe('../../shared/storage')
    expect(fs.readlinkSync(path.join(root, 'releases/s1/config/.env'))).toBe('../../../shared/config/.env')
    // The application writes into shared/ between deploys.
    fs.writeFileSync(path.join(root, 'shared/uploads/photo.jpg'), 'user data')
    fs.writeFileSync(path.join(root, 'shared/config/.env'), 'APP=production')
    const second = await runAction({
      ...inputs,
      'release-id': 's2',
      source: makeWorkspace({ 'storage/app/seed.txt': 'new release copy', 'config/.env': 'APP=from-repo', 'index.php': '2' })
    })
    expect(second.code, second.stderr + second.stdout).toBe(0)
    expect(fs.readFileSync(path.join(root, 'current/config/.env'), 'utf8')).toBe('APP=production')
    expect(fs.readFileSync(path.join(root, 'current/storage/app/seed.txt'), 'utf8')).toBe('from release')
    expect(fs.readFileSync(path.join(root, 'current/uploads/photo.jpg'), 'utf8')).toBe('user data')
  })

  it('fails before the switch when a shared file is missing everywhere, naming it', async () => {
    const root = path.join(server.root, 'shared-missing')
    const inputs = { ...connectionInputs(server), path: root }
    expect((await runAction({ ...inputs, 'release-id': 'm1', source: makeWorkspace({ a: '1' }) })).code).toBe(0)
    const run = await runAction({ ...inputs, 'release-id': 'm2', shared: '.env', source: makeWorkspace({ a: '2' }) })
    expect(run.code).not.toBe(0)
    expect(run.stdout).toContain('shared file .env is missing')
    expect(currentTarget(root)).toBe('releases/m1')
    expect(releasesOn(root)).toEqual(['m1'])
  })

  it('keeps `keep` good releases, the current one included, and leaves folders it does not own', async () => {
    const root = path.join(server.root, 'prune')
    const inputs = { ...connectionInputs(server), path: root, keep: '2' }
    fs.mkdirSync(path.join(root, 'releases/not-ours'), { recursive: true })
    fs.chownSync(root, fs.statSync(server.root).uid, fs.statSync(server.root).gid)
    fs.chownSync(path.join(root, 'releases'), fs.statSync(server.root).uid, fs.statSync(server.root).gid)
    for (const id of ['p1', 'p2', 'p3', 'p4']) {
      const run = await runAction({ ...inputs, 'release-id': id, source: makeWorkspace({ id }) })
      expect(run.code, run.stderr + run.stdout).toBe(0)
    }
    expect(releasesOn(root)).toEqual(['not-ours', 'p3', 'p4'])
    expect(currentTarget(root)).toBe('releases/p4')
  })

  it('a failing before-activate leaves current untouched, removes the release and frees the lock', async () => {
    const root = path.join(server.root, 'before-fails')
    const inputs = { ...connectionInputs(server), path: root }
    expect((await runAction({ ...inputs, 'release-id': 'b1', source: makeWorkspace({ a: '1' }) })).code).toBe(0)
    const run = await runAction({
      ...inputs,
      'release-id': 'b2',
      source: makeWorkspace({ a: '2' }),
      // The failing line is not the last one: every line must be able to fail the step.
      'before-activate': 'echo "migrating $RELEASE_ID after $PREVIOUS_RELEASE_ID"\nfalse\necho "not reached"'
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('migrating b2 after b1')
    expect(run.stdout).not.toContain('not reached')
    expect(run.stdout).toMatch(/::error::.*before-activate failed/)
    expect(currentTarget(root)).toBe('releases/b1')
    expect(releasesOn(root)).toEqual(['b1'])
    expect(fs.readdirSync(path.join(root, '.atomic-deploy/staging'))).toEqual([])
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(false)
    expect(readLog(root).map((e) => `${e.event}:${e.id}`)).toEqual(['prepared:b1', 'deployed:b1', 'prepared:b2', 'failed:b2'])
    const next = await runAction({ ...inputs, 'release-id': 'b3', source: makeWorkspace({ a: '3' }) })
    expect(next.code, next.stderr + next.stdout).toBe(0)
  })

  it('hooks see the release variables and run in the release folder', async () => {
    const root = path.join(server.root, 'hook-env')
    const run = await runAction({
      ...connectionInputs(server),
      path: root,
      'release-id': 'h1',
      source: makeWorkspace({ a: '1' }),
      'before-activate': 'echo "$RELEASE_ID|$RELEASE_PATH|$DEPLOY_PATH|$PREVIOUS_RELEASE_ID|$(pwd)" > before.txt',
      'after-activate': 'echo "$RELEASE_ID" > "$DEPLOY_PATH/shared/after.txt"'
    })
    expect(run.code, run.stderr + run.stdout).toBe(0)
    expect(fs.readFileSync(path.join(root, 'current/before.txt'), 'utf8').trim()).toBe(`h1|${root}/releases/h1|${root}||${root}/releases/h1`)
    expect(fs.readFileSync(path.join(root, 'shared/after.txt'), 'utf8').trim()).toBe('h1')
  })

  it('a failing after-activate switches back and marks the release bad', async () => {
    const root = path.join(server.root, 'after-fails')
    const inputs = { ...connectionInputs(server), path: root }
    expect((await runAction({ ...inputs, 'release-id': 'a1', source: makeWorkspace({ a: '1' }) })).code).toBe(0)
    const run = await runAction({ ...inputs, 'release-id': 'a2', source: makeWorkspace({ a: '2' }), 'after-activate': 'exit 3' })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('switched back to a1')
    expect(currentTarget(root)).toBe('releases/a1')
    expect(readLog(root).map((e) => `${e.event}:${e.id}`)).toEqual(['prepared:a1', 'deployed:a1', 'prepared:a2', 'deployed:a2', 'reverted:a2'])
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(false)
    // A bad release does not take a kept slot: with keep 2, a1 and a3 stay.
    const next = await runAction({ ...inputs, keep: '2', 'release-id': 'a3', source: makeWorkspace({ a: '3' }) })
    expect(next.code, next.stderr + next.stdout).toBe(0)
    expect(releasesOn(root)).toEqual(['a1', 'a3'])
  })

  it('with revert-on-failure false a failing after-activate keeps the new release current', async () => {
    const root = path.join(server.root, 'after-no-revert')
    const inputs = { ...connectionInputs(server), path: root }
    expect((await runAction({ ...inputs, 'release-id': 'n1', source: makeWorkspace({ a: '1' }) })).code).toBe(0)
    const run = await runAction({
      ...inputs,
      'release-id': 'n2',
      source: makeWorkspace({ a: '2' }),
      'after-activate': 'false',
      'revert-on-failure': 'false'
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('revert-on-failure is false')
    expect(currentTarget(root)).toBe('releases/n2')
  })

  it('refuses a release id that already exists', async () => {
    const root = path.join(server.root, 'collision')
    const inputs = { ...connectionInputs(server), path: root, 'release-id': 'same' }
    expect((await runAction({ ...inputs, source: makeWorkspace({ a: '1' }) })).code).toBe(0)
    const run = await runAction({ ...inputs, source: makeWorkspace({ a: '2' }) })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('release same already exists')
    expect(fs.readFileSync(path.join(root, 'current/a'), 'utf8')).toBe('1')
  })

  it('refuses a server whose host key does not match the pin, showing what it offered', async () => {
    const root = path.join(server.root, 'wrong-key')
    const wrongPin = 'SHA256:' + 'A'.repeat(43)
    const run = await runAction({
      host: `${server.host}:${server.port}`,
      username: server.username,
      'ssh-key': server.userKey,
      'host-fingerprint': wrongPin,
      path: root,
      source: makeWorkspace({ a: '1' })
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain(`does not match: the server offered ssh-ed25519 key ${server.fingerprint}`)
    expect(fs.existsSync(root)).toBe(false)
  })

  it('without a pin it refuses and shows the fingerprint to pin; the right fingerprint works', async () => {
    const root = path.join(server.root, 'pin')
    const base = {
      host: `${server.host}:${server.port}`,
      username: server.username,
      'ssh-key': server.userKey,
      path: root,
      source: makeWorkspace({ a: '1' })
    }
    const unpinned = await runAction(base)
    expect(unpinned.code).toBe(1)
    expect(unpinned.stdout).toContain(`host-fingerprint: ssh-ed25519 ${server.fingerprint}`)
    const pinned = await runAction({ ...base, 'host-fingerprint': server.fingerprint })
    expect(pinned.code, pinned.stderr + pinned.stdout).toBe(0)
  })

  it('a second deploy sends only what changed, and the release still equals the workspace', async () => {
    const root = path.join(server.root, 'incremental')
    const files: Record<string, string> = { 'index.html': 'v1' }
    for (let i = 0; i < 50; i++) files[`assets/file-${i}.txt`] = `${i}-${'x'.repeat(20_000)}`
    const ws = makeWorkspace(files)
    const inputs = { ...connectionInputs(server), path: root, source: ws, compression: 'none' }
    const first = await runAction({ ...inputs, 'release-id': 'i1' })
    expect(first.code, first.stdout).toBe(0)
    expect(first.stdout).toContain('full upload: there is no upload cache yet')
    const full = parseObjects(first.outputs.results, 'results')[0].bytesUploaded
    expect(full).toBeGreaterThan(1_000_000)
    fs.writeFileSync(path.join(ws, 'index.html'), 'v2')
    fs.rmSync(path.join(ws, 'assets/file-7.txt'))
    const second = await runAction({ ...inputs, 'release-id': 'i2' })
    expect(second.code, second.stdout).toBe(0)
    expect(second.stdout).toContain('incremental upload: 1 new or changed, 2 removed or replaced')
    const sent = parseObjects(second.outputs.results, 'results')[0].bytesUploaded
    expect(sent).toBeLessThan(2 + 64 * 1024)
    expect(fs.readFileSync(path.join(root, 'current/index.html'), 'utf8')).toBe('v2')
    expect(fs.existsSync(path.join(root, 'current/assets/file-7.txt'))).toBe(false)
    expect(fs.readdirSync(path.join(root, 'current/assets'))).toHaveLength(49)
    expect(fs.readFileSync(path.join(root, 'releases/i1/index.html'), 'utf8')).toBe('v1')
    const off = await runAction({ ...inputs, 'release-id': 'i3', incremental: 'false' })
    expect(off.code, off.stdout).toBe(0)
    expect(parseObjects(off.outputs.results, 'results')[0].bytesUploaded).toBeGreaterThan(900_000)
  })

  it('incremental deploys of a workspace with read-only folders (555, files 444, as module caches have) give the workspace each time', async () => {
    const root = path.join(server.root, 'read-only')
    const ws = makeWorkspace({
      'index.html': 'v1',
      'vendor/lib/a.php': 'a1',
      'vendor/lib/b.php': 'b1',
      'vendor/gone/x.txt': 'x',
      'node_modules/pkg/index.js': 'i1',
      'node_modules/pkg/sub/deep.js': 'd1'
    })
    const readOnly = (...rels: string[]): void => rels.forEach((rel) => fs.chmodSync(path.join(ws, rel), fs.statSync(path.join(ws, rel)).isDirectory() ? 0o555 : 0o444))
    // Edits inside read-only folders, as a package manager makes them: open, change, close.
    const inside = (dirs: string[], change: () => void): void => {
      dirs.forEach((dir) => fs.chmodSync(path.join(ws, dir), 0o755))
      change()
      readOnly(...[...dirs].reverse())
    }
    readOnly('vendor/lib/a.php', 'vendor/lib/b.php', 'vendor/gone/x.txt', 'node_modules/pkg/index.js', 'node_modules/pkg/sub/deep.js')
    readOnly('vendor/lib', 'vendor/gone', 'vendor', 'node_modules/pkg/sub', 'node_modules/pkg')
    // The release is compared with the workspace, file for file: no revision file.
    const inputs = { ...connectionInputs(server), path: root, source: ws, 'revision-file': 'false' }
    const deployed = async (id: string): Promise<string> => {
      const run = await runAction({ ...inputs, 'release-id': id })
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(treeSnapshot(path.join(root, 'releases', id))).toEqual(treeSnapshot(ws))
      return run.stdout
    }
    await deployed('ro1')
    const first = treeSnapshot(ws)

    // A file changed, one removed and one added in a read-only folder; a read-only tree removed.
    inside(['vendor', 'vendor/lib'], () => {
      fs.chmodSync(path.join(ws, 'vendor/lib/a.php'), 0o644)
      fs.writeFileSync(path.join(ws, 'vendor/lib/a.php'), 'a2')
      fs.chmodSync(path.join(ws, 'vendor/lib/a.php'), 0o444)
      fs.rmSync(path.join(ws, 'vendor/lib/b.php'))
      fs.writeFileSync(path.join(ws, 'vendor/lib/c.php'), 'c1', { mode: 0o444 })
      fs.chmodSync(path.join(ws, 'vendor/gone'), 0o755)
      fs.rmSync(path.join(ws, 'vendor/gone'), { recursive: true })
    })
    fs.writeFileSync(path.join(ws, 'index.html'), 'v2')
    const second = await deployed('ro2')
    expect(second).toContain('incremental upload: ')
    expect(second).not.toContain('sending everything instead')

    // A read-only folder made writable, a read-only subtree removed, a new read-only folder.
    inside(['node_modules/pkg'], () => {
      fs.chmodSync(path.join(ws, 'node_modules/pkg/sub'), 0o755)
      fs.rmSync(path.join(ws, 'node_modules/pkg/sub'), { recursive: true })
    })
    fs.chmodSync(path.join(ws, 'node_modules/pkg'), 0o755)
    inside(['vendor'], () => {
      fs.mkdirSync(path.join(ws, 'vendor/new'))
      fs.writeFileSync(path.join(ws, 'vendor/new/n.php'), 'n', { mode: 0o444 })
      fs.chmodSync(path.join(ws, 'vendor/new'), 0o555)
    })
    const third = await deployed('ro3')
    expect(third).toContain('incremental upload: ')
    expect(third).not.toContain('sending everything instead')
    expect(treeSnapshot(path.join(root, 'releases/ro1'))).toEqual(first)
  })

  it('uses one SSH connection for the whole deploy', async () => {
    const root = path.join(server.root, 'one-connection')
    const before = (server.log().match(/Accepted publickey for /g) ?? []).length
    const run = await runAction({
      ...connectionInputs(server),
      path: root,
      source: makeWorkspace({ a: '1' }),
      shared: 'storage/',
      'before-activate': 'true',
      'after-activate': 'true'
    })
    expect(run.code, run.stdout).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect((server.log().match(/Accepted publickey for /g) ?? []).length - before).toBe(1)
  })

  it('writes a job summary after a deploy and after a failure', async () => {
    const root = path.join(server.root, 'summary')
    const ok = await runAction(
      { ...connectionInputs(server), path: root, 'release-id': 's1', source: makeWorkspace({ a: '1', b: '22' }) },
      { env: { GITHUB_SHA: 'cafebabe12345678' } }
    )
    expect(ok.code, ok.stdout).toBe(0)
    expect(ok.summary).toContain('### atomic-deploy: Deployed s1')
    expect(ok.summary).toContain(`| host | ${server.username}@127.0.0.1:${server.port} |`)
    expect(ok.summary).toContain('| commit | cafebabe1234 |')
    expect(ok.summary).toContain('| files | 2 |')
    expect(ok.summary).toContain('| pruned | none |')
    expect(ok.summary).toMatch(/\| duration \| \d+\.\d s \|/)
    expect(ok.summary).toContain('| **s1** (current) |')
    expect(ok.stdout).toContain('::notice::s1 is current on')
    const failed = await runAction({ ...connectionInputs(server), path: root, 'release-id': 's2', source: makeWorkspace({ a: '2' }), 'before-activate': 'echo boom >&2; exit 5' })
    expect(failed.code).toBe(1)
    expect(failed.summary).toContain('### atomic-deploy: deploy failed')
    expect(failed.summary).toContain('| step | prepare |')
    expect(failed.summary).toContain('before-activate failed (exit status 5)')
    expect(failed.summary).toContain('| not-switched |'.replace('not-switched', 'failed'))
  })
})
