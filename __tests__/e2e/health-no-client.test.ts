/**
 * health-url on a server that has no HTTP client at all, through the
 * committed bundle against a real sshd: a BusyBox server whose PATH holds
 * every applet but wget, and no curl. The deploy fails before the switch,
 * naming what to install, and nothing on the server changes.
 */
import { execFileSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { connectionInputs, makeWorkspace, runAction } from './run-action'
import { treeSnapshot } from '../support/tree'

let server: TestServer | undefined
let bin: string | undefined

beforeAll(async () => {
  bin = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-no-http-client-'))
  fs.chmodSync(bin, 0o755)
  execFileSync('busybox', ['--install', '-s', bin])
  fs.rmSync(path.join(bin, 'wget'))
  server = await startSshd({ extraConfig: `SetEnv PATH=${bin}` })
}, 60_000)

afterAll(async () => {
  await server?.stop()
  if (bin) fs.rmSync(bin, { recursive: true, force: true })
})

describe('health-url without an HTTP client on the server', () => {
  it('fails before the switch, naming what to install, and changes nothing', async () => {
    const root = path.join(server!.root, 'no-http-client')
    const first = await runAction({ ...connectionInputs(server!), path: root, 'release-id': 'r1', source: makeWorkspace({ 'index.html': 'r1' }) })
    expect(first.code, first.stdout + first.stderr).toBe(0)
    const before = treeSnapshot(root)

    const result = await runAction({
      ...connectionInputs(server!),
      path: root,
      'release-id': 'r2',
      source: makeWorkspace({ 'index.html': 'r2' }),
      'health-url': 'http://127.0.0.1:9/health'
    })
    expect(result.code).not.toBe(0)
    expect(result.stdout + result.stderr).toContain('the server has no HTTP client to fetch it with: install curl or wget')
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/r1')
    expect(treeSnapshot(root)).toEqual(before)
  }, 120_000)
})
