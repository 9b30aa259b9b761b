/**
 * Connecting (src/ssh/connection.ts) to a server that accepts TCP but closes
 * it before the SSH banner, as sshd does past MaxStartups (a reconnect right
 * after a dropped connection meets it): the failure is transient, so
 * `retries` applies, and the message says what it likely is.
 */
import * as net from 'net'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseSettings } from '../../src/config/inputs'
import { RemoteHost } from '../../src/ssh/connection'

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-connection-'))
afterAll(() => fs.rmSync(workspace, { recursive: true, force: true }))

describe('a server that closes the connection before the SSH handshake', () => {
  it('is retried (retries: 1 makes two attempts) and named as a connection limit or firewall', async () => {
    let accepted = 0
    const server = net.createServer((socket) => {
      accepted++
      socket.destroy()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as net.AddressInfo).port
    try {
      const inputs: Record<string, string> = { host: `127.0.0.1:${port}`, username: 'deploy', password: 'pw', path: '/var/www/app', retries: '1', 'strict-host-key': 'false' }
      const settings = parseSettings((name) => inputs[name] ?? '', { GITHUB_WORKSPACE: workspace })
      const log: string[] = []
      const error = await RemoteHost.connect(settings, settings.targets[0], (line) => log.push(line)).then(
        () => undefined,
        (e: Error) => e
      )
      expect(error?.message).toMatch(/closed the connection before the SSH handshake.*MaxStartups/)
      expect(accepted).toBe(2)
      expect(log.join('\n')).toContain('attempt 2 of 2')
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  }, 30_000)
})
