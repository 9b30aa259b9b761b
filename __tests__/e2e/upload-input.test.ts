/**
 * What the workspace upload takes from the exclude input, and what it
 * refuses, through the committed bundle against a real sshd.
 */
import * as fs from 'fs'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { connectionInputs, makeWorkspace, runAction } from './run-action'

let server: TestServer

beforeAll(async () => {
  server = await startSshd()
})

afterAll(async () => {
  await server?.stop()
})

/** Every path in the live release, sorted. */
function liveTree(root: string): string[] {
  const release = fs.realpathSync(path.join(root, 'current'))
  return (fs.readdirSync(release, { recursive: true }) as string[]).sort()
}

describe('the upload and exclude', () => {
  it('keeps .git out when exclude is set (the checkout token lives in .git/config), and uploads it for a !.git line', async () => {
    const root = path.join(server.root, 'git-kept-out')
    const ws = makeWorkspace({ '.git/config': '[http]\n\textraheader = AUTHORIZATION: basic c2VjcmV0\n', 'index.html': 'v1', 'node_modules/a.js': 'x' })
    const inputs = { ...connectionInputs(server), path: root, source: ws }
    const first = await runAction({ ...inputs, exclude: 'node_modules/', 'release-id': 'one' })
    expect(first.code, first.stdout + first.stderr).toBe(0)
    expect(liveTree(root)).toEqual(['REVISION', 'index.html'])
    const second = await runAction({ ...inputs, exclude: 'node_modules/\n!.git', 'release-id': 'two' })
    expect(second.code, second.stdout + second.stderr).toBe(0)
    expect(liveTree(root)).toEqual(['.git', '.git/config', 'REVISION', 'index.html'])
  })

  it('reads a later !pattern as an exception to an earlier line, and a !pattern alone as excluding nothing', async () => {
    const root = path.join(server.root, 'negation')
    const ws = makeWorkspace({ 'index.html': 'v1', 'keep.log': 'kept', 'debug.log': 'x', 'logs/keep.log': 'x' })
    const inputs = { ...connectionInputs(server), path: root, source: ws }
    const alone = await runAction({ ...inputs, exclude: '!keep.log', 'release-id': 'alone' })
    expect(alone.code, alone.stdout + alone.stderr).toBe(0)
    expect(liveTree(root)).toEqual(['REVISION', 'debug.log', 'index.html', 'keep.log', 'logs', 'logs/keep.log'])
    const exception = await runAction({ ...inputs, exclude: '*.log\nlogs/\n!keep.log', 'release-id': 'exception' })
    expect(exception.code, exception.stdout + exception.stderr).toBe(0)
    expect(liveTree(root)).toEqual(['REVISION', 'index.html', 'keep.log'])
    expect(fs.readFileSync(path.join(root, 'current/keep.log'), 'utf8')).toBe('kept')
  })

  it('refuses an upload with no file before connecting, naming exclude and allow-empty; allow-empty deploys it', async () => {
    const root = path.join(server.root, 'empty')
    const inputs = { ...connectionInputs(server), path: root, source: makeWorkspace({ 'a.log': 'x', '.git/HEAD': 'ref' }), exclude: '*.log' }
    const refused = await runAction({ ...inputs, 'release-id': 'refused' })
    expect(refused.code).not.toBe(0)
    expect(refused.stdout).toContain("Invalid input 'exclude': leaves no file of")
    expect(refused.stdout).toContain('allow-empty: true')
    expect(refused.stdout).not.toContain('Connecting to')
    expect(fs.existsSync(root)).toBe(false)
    const allowed = await runAction({ ...inputs, 'allow-empty': 'true', 'release-id': 'allowed' })
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0)
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/allowed')
    // Nothing uploaded; the release holds only the revision file the deploy writes.
    expect(liveTree(root)).toEqual(['REVISION'])
    expect(fs.readFileSync(path.join(root, 'current/REVISION'), 'utf8')).toMatch(/^allowed\n/)
  })

  it('refuses a name that is not UTF-8 before connecting, showing it escaped; an exclude line for it lets the deploy go', async () => {
    const root = path.join(server.root, 'not-utf8')
    const ws = makeWorkspace({ 'index.html': 'v1' })
    fs.writeFileSync(Buffer.concat([Buffer.from(`${ws}/`), Buffer.from('caf\xe9.txt', 'latin1')]), 'latin-1 name')
    const inputs = { ...connectionInputs(server), path: root, source: ws }
    const refused = await runAction({ ...inputs, 'release-id': 'refused' })
    expect(refused.code).not.toBe(0)
    expect(refused.stdout).toContain("Invalid input 'source': names in")
    expect(refused.stdout).toContain('"caf\\xe9.txt"')
    expect(refused.stdout).not.toContain('ENOENT')
    expect(refused.stdout).not.toContain('Connecting to')
    expect(fs.existsSync(root)).toBe(false)
    const excluded = await runAction({ ...inputs, exclude: 'caf*.txt', 'release-id': 'excluded' })
    expect(excluded.code, excluded.stdout + excluded.stderr).toBe(0)
    expect(liveTree(root)).toEqual(['REVISION', 'index.html'])
  })

  it('deploys a workspace with its own top-level .atomic-deploy-control, folder or file, and the release holds it', async () => {
    const root = path.join(server.root, 'control-name')
    const ws = makeWorkspace({ 'index.html': 'v1', '.atomic-deploy-control/add': 'mine', '.atomic-deploy-control/remove': 'index.html\n' })
    const inputs = { ...connectionInputs(server), path: root, source: ws }
    const full = await runAction({ ...inputs, 'release-id': 'full' })
    expect(full.code, full.stdout + full.stderr).toBe(0)
    expect(liveTree(root)).toEqual(['.atomic-deploy-control', '.atomic-deploy-control/add', '.atomic-deploy-control/remove', 'REVISION', 'index.html'])
    expect(fs.readFileSync(path.join(root, 'current/.atomic-deploy-control/remove'), 'utf8')).toBe('index.html\n')
    const plain = await runAction({ ...inputs, incremental: 'false', 'release-id': 'plain' })
    expect(plain.code, plain.stdout + plain.stderr).toBe(0)
    expect(liveTree(root)).toEqual(['.atomic-deploy-control', '.atomic-deploy-control/add', '.atomic-deploy-control/remove', 'REVISION', 'index.html'])
    fs.rmSync(path.join(ws, '.atomic-deploy-control'), { recursive: true })
    fs.writeFileSync(path.join(ws, '.atomic-deploy-control'), 'a file now')
    const delta = await runAction({ ...inputs, 'release-id': 'delta' })
    expect(delta.code, delta.stdout + delta.stderr).toBe(0)
    expect(delta.stdout).toContain('incremental upload')
    expect(liveTree(root)).toEqual(['.atomic-deploy-control', 'REVISION', 'index.html'])
    expect(fs.readFileSync(path.join(root, 'current/.atomic-deploy-control'), 'utf8')).toBe('a file now')
  })
})
