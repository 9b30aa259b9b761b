/**
 * What one script run costs in SSH messages, seen from an in-process SSH
 * server (ssh2's): one session channel, one exec request and nothing else
 * on it (no env, pty or signal request, no global request), over the one
 * connection. Opening the channel and the exec request each wait for the
 * server's answer, so a script run is 3 round trips with the answer (see
 * round-trips.test.ts for how many runs a deploy makes).
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { Readable } from 'stream'
import { Server, ServerChannel, utils } from 'ssh2'
import { RemoteHost } from '../../src/ssh/connection'
import { fakeDeploySettings } from '../support/fake-settings'

const sourceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-messages-'))
afterAll(() => fs.rmSync(sourceDir, { recursive: true, force: true }))

/** Every session request type ssh2's server names; any other it refuses. */
const SESSION_REQUESTS = ['env', 'pty', 'window-change', 'x11', 'signal', 'auth-agent', 'shell', 'exec', 'subsystem', 'sftp'] as const

interface Seen {
  connections: number
  globalRequests: string[]
  /** Per channel opened, the requests made on it, in order. */
  channels: string[][]
}

/** A server that answers every exec by reading stdin to its end and printing one result line. */
async function startServer(seen: Seen): Promise<{ port: number; stop: () => Promise<void> }> {
  const hostKey = utils.generateKeyPairSync('ed25519').private
  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    seen.connections++
    client.on('authentication', (ctx) => ctx.accept())
    client.on('request', (_accept, reject, name) => {
      seen.globalRequests.push(name)
      reject?.()
    })
    client.on('session', (accept) => {
      const requests: string[] = []
      seen.channels.push(requests)
      const session = accept()
      for (const type of SESSION_REQUESTS) {
        session.on(type, (acceptRequest: (() => unknown) | undefined, rejectRequest: (() => void) | undefined) => {
          requests.push(type)
          if (type !== 'exec') return rejectRequest?.()
          const channel = acceptRequest!() as ServerChannel
          const input: Buffer[] = []
          channel.on('data', (chunk: Buffer) => input.push(chunk))
          channel.on('end', () => {
            channel.write(`@@finished ${Buffer.concat(input).includes('#atomic-deploy-script-end') ? 'whole' : 'cut'}\n`)
            channel.exit(0)
            channel.end()
          })
        })
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return { port, stop: () => new Promise((resolve) => server.close(() => resolve())) }
}

describe('one script run in SSH messages', () => {
  it('is one channel with one exec request on it, on the one connection, whatever the script and its stdin', async () => {
    const seen: Seen = { connections: 0, globalRequests: [], channels: [] }
    const server = await startServer(seen)
    const settings = { ...fakeDeploySettings(sourceDir, 1), targets: [{ host: '127.0.0.1', port: server.port }], hostKey: { mode: 'insecure' as const } }
    const host = await RemoteHost.connect(settings, settings.targets[0])
    try {
      const results = []
      results.push(await host.run('echo one'))
      results.push(await host.run('cat >/dev/null', { stdin: Readable.from([Buffer.alloc(100_000)]) }))
      results.push(await host.run('echo three'))
      expect(results.map((r) => [r.code, r.results])).toEqual(Array(3).fill([0, [['finished', 'whole']]]))
      expect(seen).toEqual({ connections: 1, globalRequests: [], channels: [['exec'], ['exec'], ['exec']] })
    } finally {
      host.close()
      await server.stop()
    }
  }, 30_000)
})
