/**
 * The demo's embedded SSH server (scripts/lib/embedded-sshd.js) passes an exec
 * channel through faithfully: stdin byte for byte up to the client's EOF (a
 * remote script read from stdin, then the upload on the same stdin, relies on
 * it), stdout and stderr apart, the exit status or signal; and after stop()
 * nothing listens and no command runs.
 */
import * as crypto from 'crypto'
import { createRequire } from 'module'
import { Client } from 'ssh2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alive, listening } from '../support/processes'

interface EmbeddedSshd {
  host: string
  port: number
  username: string
  fingerprint: string
  stop(): Promise<void>
}
interface EmbeddedModule {
  generateKeyPair(): { privateKey: string; publicKey: string }
  startEmbeddedSshd(options: { userPublicKey: string }): Promise<EmbeddedSshd>
}
const embedded = createRequire(__filename)('../../scripts/lib/embedded-sshd.js') as EmbeddedModule

interface Exec {
  stdout: Buffer
  stderr: Buffer
  code: number | null
  signal: string | null
}

let server: EmbeddedSshd
let client: Client
const user = embedded.generateKeyPair()

/** The host key's SHA256 fingerprint, as the server reports it. */
function fingerprintOf(key: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`
}

function connect(): Promise<Client> {
  const connection = new Client()
  return new Promise((resolve, reject) => {
    connection.once('ready', () => resolve(connection))
    connection.once('error', reject)
    connection.connect({
      host: server.host,
      port: server.port,
      username: server.username,
      privateKey: user.privateKey,
      hostVerifier: (key: Buffer) => fingerprintOf(key) === server.fingerprint,
      readyTimeout: 30_000
    })
  })
}

/** Runs `command`, writes `input` then EOF, and collects everything the channel gives back. */
function exec(command: string, input: Buffer): Promise<Exec> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error)
      const stdout: Buffer[] = []
      const stderr: Buffer[] = []
      let code: number | null = null
      let signal: string | null = null
      channel.on('data', (chunk: Buffer) => stdout.push(chunk))
      channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
      channel.on('exit', (exitCode: number | null, exitSignal?: string) => {
        code = exitCode
        signal = exitSignal ?? null
      })
      channel.on('close', () => resolve({ stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), code, signal }))
      channel.end(input)
    })
  })
}

beforeAll(async () => {
  server = await embedded.startEmbeddedSshd({ userPublicKey: user.publicKey })
  client = await connect()
}, 60_000)

afterAll(async () => {
  client?.end()
  await server?.stop()
})

describe('the embedded SSH server', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(server.host).toBe('127.0.0.1')
  })

  it('passes a few MB of stdin to cat byte for byte, and cat ends at the EOF', async () => {
    const input = crypto.randomBytes(3 * 1024 * 1024 + 17)
    const run = await exec('cat', input)
    expect(run.stderr.toString()).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout.length).toBe(input.length)
    expect(run.stdout.equals(input)).toBe(true)
  }, 120_000)

  it('gives wc -c the exact byte count once stdin ends', async () => {
    const input = crypto.randomBytes(4 * 1024 * 1024)
    const run = await exec('wc -c', input)
    expect(run.code).toBe(0)
    expect(run.stdout.toString().trim()).toBe(String(input.length))
  }, 120_000)

  it('leaves what a script reads line by line from stdin, and the rest, to the next reader on the same stdin', async () => {
    const upload = crypto.randomBytes(1024 * 1024)
    const script = Buffer.from('printf "first line: %s\\n" "$line" >&2\n')
    // sh's read takes one byte at a time from a pipe, so cat gets exactly what follows the line.
    const run = await exec('IFS= read -r line && eval "$line" && cat', Buffer.concat([script, upload]))
    expect(run.code).toBe(0)
    expect(run.stderr.toString()).toBe(`first line: ${script.toString().trimEnd()}\n`)
    expect(run.stdout.equals(upload)).toBe(true)
  }, 120_000)

  it('keeps stdout and stderr apart and passes the exit status', async () => {
    const run = await exec('printf out; printf err >&2; exit 7', Buffer.alloc(0))
    expect(run.stdout.toString()).toBe('out')
    expect(run.stderr.toString()).toBe('err')
    expect(run.code).toBe(7)
    expect(run.signal).toBeNull()
  }, 60_000)

  it('passes the signal that ended the command', async () => {
    const run = await exec('kill -TERM $$', Buffer.alloc(0))
    // TERM on the wire (RFC 4254's exit-signal); ssh2's client reports it with the SIG prefix.
    expect(run.signal).toBe('SIGTERM')
    expect(run.code).toBeNull()
  }, 60_000)

  it('runs commands as the current user with /bin/sh', async () => {
    const run = await exec('id -un; echo "$0"', Buffer.alloc(0))
    expect(run.stdout.toString()).toBe(`${server.username}\n/bin/sh\n`)
  }, 60_000)

  it('stops: its running command ends and nothing listens on its port any more', async () => {
    const pid = await new Promise<number>((resolve, reject) => {
      client.exec('echo $$; exec sleep 600', (error, channel) => {
        if (error) return reject(error)
        channel.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
      })
    })
    expect(alive(pid)).toBe(true)
    client.end()
    await server.stop()
    expect(alive(pid), `command pid ${pid} still runs`).toBe(false)
    expect(await listening(server.port)).toBe(false)
  }, 60_000)
})
