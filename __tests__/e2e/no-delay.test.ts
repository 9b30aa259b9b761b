/**
 * The connection to a server is a TCP socket with Nagle's algorithm off:
 * each script run is a few small messages that wait for an answer, and with
 * Nagle on, the server's delayed ACK held each back (about 125 ms per script
 * run on loopback; `npm run bench` shows what a deploy gains). Timings belong
 * in the bench, so this test checks the wiring: the socket ssh2 gets is opened
 * with noDelay, to the host and port of the target, and a script runs on it.
 */
import * as net from 'net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { makeWorkspace } from './run-action'
import { parseSettings } from '../../src/config/inputs'
import { RemoteHost } from '../../src/ssh/connection'

vi.mock('net', async (importOriginal) => {
  const real = await importOriginal<typeof import('net')>()
  return { ...real, connect: vi.fn(real.connect) }
})

let server: TestServer
beforeAll(async () => {
  server = await startSshd()
})
afterAll(async () => {
  await server?.stop()
})

function settings() {
  const source = makeWorkspace({ 'index.html': 'x' })
  const all: Record<string, string> = {
    host: `${server.host}:${server.port}`,
    username: server.username,
    'ssh-key': server.userKey,
    'known-hosts': server.knownHosts,
    path: `${server.root}/no-delay`,
    source
  }
  return parseSettings((name) => all[name] ?? '', { GITHUB_WORKSPACE: source, GITHUB_ACTOR: 'tester' })
}

describe('the TCP connection to a server', () => {
  it('is opened with noDelay to the target, and carries a script run', async () => {
    const connect = vi.mocked(net.connect)
    connect.mockClear()
    const parsed = settings()
    const connection = await RemoteHost.connect(parsed, parsed.targets[0])
    try {
      const result = await connection.run('echo "@@probe $((6 * 7))"')
      expect(result.code).toBe(0)
      expect(result.results).toContainEqual(['probe', '42'])
    } finally {
      connection.close()
    }
    expect(connect).toHaveBeenCalledTimes(1)
    expect(connect.mock.calls[0][0]).toEqual({ host: server.host, port: server.port, noDelay: true })
  })
})
