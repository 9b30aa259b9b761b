/**
 * A server whose sessions run under umask 077 (sshd started with it, as a
 * strict login default gives): a full deploy and then an incremental one
 * through the committed bundle, after each of which another user (the web
 * server's, here `nobody`) can read current/: every folder on the way is
 * traversable by others, as the workspace's 755 folders ask.
 */
import { execFileSync } from 'child_process'
import * as fs from 'fs'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { connectionInputs, makeWorkspace, runAction } from './run-action'

let server: TestServer

beforeAll(async () => {
  server = await startSshd({ umask: '077' })
})

afterAll(async () => {
  await server?.stop()
})

const mode = (file: string): number => fs.statSync(file).mode & 0o7777

/** Every folder from / to the file lets others through, and the file lets them read it. */
function expectReadableByOthers(file: string): void {
  const real = fs.realpathSync(file)
  expect(`${real} ${(mode(real) & 0o004).toString(8)}`).toBe(`${real} 4`)
  for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
    expect(`${dir} ${(mode(dir) & 0o001).toString(8)}`).toBe(`${dir} 1`)
    if (dir === path.dirname(dir)) break
  }
}

/** As root, the tests read the file as `nobody` too: a user the server's files are not owned by. */
function readAsOtherUser(file: string): string | undefined {
  if (process.getuid?.() !== 0) return undefined
  return execFileSync('cat', [file], { uid: 65534, gid: 65534, encoding: 'utf8' })
}

describe('a server whose sessions run under umask 077', () => {
  it('serves current/ to another user after a full and after an incremental deploy', async () => {
    // The deploy path is missing: the tool makes it.
    const root = path.join(server.root, 'site')
    const ws = makeWorkspace({ 'index.html': 'v1', 'css/site.css': 'body{}' })
    for (const dir of ['.', 'css']) fs.chmodSync(path.join(ws, dir), 0o755)
    // The hook prints the umask the server's script runs under: the positive control.
    const inputs = { ...connectionInputs(server), path: root, source: ws, shared: 'storage/', 'before-activate': 'echo "hook umask: $(umask)"' }

    const first = await runAction({ ...inputs, 'release-id': 'u1' })
    expect(first.code, first.stdout + first.stderr).toBe(0)
    expect(first.stdout).toContain('full upload')
    expect(first.stdout).toContain('hook umask: 0077')
    expect(mode(path.join(root, '.atomic-deploy/releases.log')).toString(8)).toBe('600')
    for (const file of ['index.html', 'css/site.css']) expectReadableByOthers(path.join(root, 'current', file))
    expect(mode(path.join(root, 'shared/storage')).toString(8)).toBe('755')
    const asOther = readAsOtherUser(path.join(root, 'current/index.html'))
    if (asOther !== undefined) expect(asOther).toBe('v1')

    fs.writeFileSync(path.join(ws, 'index.html'), 'v2')
    fs.mkdirSync(path.join(ws, 'img'), { mode: 0o755 })
    fs.chmodSync(path.join(ws, 'img'), 0o755)
    fs.writeFileSync(path.join(ws, 'img/logo.svg'), '<svg/>')
    const second = await runAction({ ...inputs, 'release-id': 'u2' })
    expect(second.code, second.stdout + second.stderr).toBe(0)
    expect(second.stdout).toContain('incremental upload')
    expect(second.stdout).toContain('hook umask: 0077')
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/u2')
    for (const file of ['index.html', 'css/site.css', 'img/logo.svg']) expectReadableByOthers(path.join(root, 'current', file))
    const asOtherAgain = readAsOtherUser(path.join(root, 'current/index.html'))
    if (asOtherAgain !== undefined) expect(asOtherAgain).toBe('v2')
  })
})
