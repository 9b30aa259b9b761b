/**
 * Through the committed bundle and a real sshd: a workspace whose root is
 * read-only (555, as a Nix or Bazel build output is). The release root takes
 * that mode, and the prune must still move old releases out of releases/:
 * renaming a folder into another parent needs write permission on the
 * folder itself (its '..' entry).
 */
import * as fs from 'fs'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { connectionInputs, makeWorkspace, runAction } from './run-action'

let server: TestServer

beforeAll(async () => {
  server = await startSshd({ umask: '022' })
})

afterAll(async () => {
  await server?.stop()
})

describe('a workspace with a read-only (555) root', () => {
  it('deploys, and keep: 1 prunes the older releases', async () => {
    const root = path.join(server.root, 'site')
    const ws = makeWorkspace({ 'index.html': 'v1' })
    fs.chmodSync(ws, 0o555)
    const inputs = { ...connectionInputs(server), path: root, source: ws, keep: '1' }
    let last = ''
    try {
      for (const id of ['p1', 'p2', 'p3']) {
        const run = await runAction({ ...inputs, 'release-id': id })
        expect(run.code, run.stdout + run.stderr).toBe(0)
        last = run.stdout + run.stderr
      }
    } finally {
      fs.chmodSync(ws, 0o755)
    }
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/p3')
    expect(last).not.toMatch(/could not move releases/)
    expect(fs.readdirSync(path.join(root, 'releases')).sort()).toEqual(['p3'])
  })
})
