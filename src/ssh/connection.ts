import { EventEmitter } from 'events'
import { Socket, connect as netConnect } from 'net'
import { Duplex, PassThrough, Readable } from 'stream'
import { StringDecoder } from 'string_decoder'
import { NodeSSH, Config } from 'node-ssh'
import { ClientChannel } from 'ssh2'
import { Credentials, DeploySettings, HostAddress, HostKeyPolicy } from '../config/settings'
import { HostKeyCheck } from './host-key'
import { describeHost } from '../config/host-address'
import { launch } from './launch'
import { ScriptResult, parseResultLine } from './protocol'

export interface RunOptions {
  stdin?: Readable
  /** Each line the script writes to stderr (step banners, hook output), as it comes. */
  onLog?: (line: string) => void
}

/** Anything that runs a remote script: an SSH connection, or a local shell in tests. */
export interface ScriptRunner {
  run(script: string, options?: RunOptions): Promise<ScriptResult>
}

/** One open connection to one server, as the flows use it; tests put fakes in its place. */
export interface Connection extends ScriptRunner {
  /** user@host[:port], for messages. */
  readonly name: string
  close(): void
}

/** Opens one connection to one target; `RemoteHost.connect` is the real one, tests pass fakes. */
export type Connector = (settings: DeploySettings, target: HostAddress, log?: (line: string) => void) => Promise<Connection>

/** The real connector: an SSH connection (through the jump host when one is set), with retries. */
export const connectRemote: Connector = (settings, target, log) => RemoteHost.connect(settings, target, log)

/** After the script exits, how long to wait for its output to drain before closing the channel. */
const DRAIN_AFTER_EXIT_MS = 2000

export class ConnectError extends Error {
  constructor(
    message: string,
    /** A network failure that may pass: worth another try. */
    readonly transient: boolean
  ) {
    super(message)
    this.name = 'ConnectError'
  }
}

/** ssh2's errors when the host key was refused, or the server has no key of the types asked for. */
const HOST_KEY_REFUSED = /host denied|no matching host key format/i

/**
 * Connects and logs in. When the server shows a key other than the pinned
 * one, connects again asking for one other key type at a time (HostKeyCheck
 * says which), and refuses only once every type the pin may be of was seen.
 * `openSock` makes a fresh tunnel for each attempt when there is a jump host.
 */
async function openSsh(target: HostAddress, credentials: Credentials, hostKey: HostKeyPolicy, timeoutSeconds: number, openSock?: () => Promise<Duplex>): Promise<NodeSSH> {
  const check = new HostKeyCheck(hostKey, target)
  const name = `${credentials.username}@${describeHost(target)}`
  for (;;) {
    const serverHostKey = check.nextAlgorithms()
    const sock = openSock ? await openSock() : tcpWithoutDelay(target)
    const config: Config = {
      host: target.host,
      port: target.port,
      username: credentials.username,
      privateKey: credentials.privateKey,
      passphrase: credentials.passphrase,
      password: credentials.password,
      readyTimeout: timeoutSeconds * 1000,
      keepaliveInterval: 15000,
      hostVerifier: (key: Buffer) => check.verify(key),
      sock,
      ...(serverHostKey ? { algorithms: { serverHostKey: serverHostKey as never } } : {})
    }
    const ssh = new NodeSSH()
    try {
      await ssh.connect(config)
    } catch (error) {
      ssh.dispose()
      sock.destroy()
      const message = (error as Error).message
      if (/no matching host key format/i.test(message)) check.noCommonKeyType()
      if (HOST_KEY_REFUSED.test(message) && check.hasNextAttempt()) continue
      throw explainConnectError(error as Error, name, credentials, timeoutSeconds, check)
    }
    // A connection that dies later (reset, sshd killed) must not crash the run:
    // the running script's channel closes without an exit code, and the flow
    // reports the connection as lost.
    ssh.connection?.on('error', () => undefined)
    return ssh
  }
}

/**
 * The TCP connection to a server, with Nagle's algorithm off (ssh2 leaves
 * it on): each script run is a few small messages that wait for an answer,
 * and Nagle held each one back until the last was acknowledged, which the
 * server's delayed ACK put off: about 125 ms per script run on loopback,
 * against 6 ms without (scripts/bench.js shows what a deploy gains).
 * ssh2 takes a connecting socket as its own (the `sock` option).
 */
function tcpWithoutDelay(target: HostAddress): Socket {
  return netConnect({ host: target.host, port: target.port, noDelay: true })
}

/** A TCP stream to the target, opened by the jump host. */
function forwardTo(proxy: NodeSSH, target: HostAddress, name: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    proxy.connection!.forwardOut('127.0.0.1', 0, target.host, target.port, (error, stream) => {
      if (error) {
        const refusedByPolicy = /prohibited/i.test(error.message)
        reject(
          new ConnectError(
            `Cannot reach ${name} through the jump host: ${error.message}. Check that proxy-host may forward (AllowTcpForwarding) and can reach host.`,
            !refusedByPolicy
          )
        )
      } else resolve(stream)
    })
  })
}

/** One SSH connection to one server, reused for every script of a run. */
export class RemoteHost implements Connection {
  private constructor(
    private readonly ssh: NodeSSH,
    readonly name: string,
    private readonly proxy?: NodeSSH
  ) {}

  /**
   * Connects to one target (through the jump host when one is set), retrying
   * transient network failures with backoff; never retries a refused key.
   */
  static async connect(settings: DeploySettings, target: HostAddress, log: (line: string) => void = () => undefined): Promise<RemoteHost> {
    const attempts = settings.retries + 1
    for (let attempt = 1; ; attempt++) {
      try {
        return await RemoteHost.connectOnce(settings, target)
      } catch (error) {
        if (!(error instanceof ConnectError) || !error.transient || attempt >= attempts) throw error
        const delay = Math.min(1000 * 2 ** (attempt - 1), 8000)
        log(`${error.message} Retrying in ${delay / 1000} s (attempt ${attempt + 1} of ${attempts}).`)
        await new Promise((resolve) => setTimeout(resolve, delay))
      }
    }
  }

  private static async connectOnce(settings: DeploySettings, target: HostAddress): Promise<RemoteHost> {
    const name = `${settings.credentials.username}@${describeHost(target)}`
    const proxy = settings.proxy ? await openSsh(settings.proxy.address, settings.proxy.credentials, settings.proxy.hostKey, settings.connectTimeoutSeconds) : undefined
    try {
      const openSock = proxy ? () => forwardTo(proxy, target, name) : undefined
      const ssh = await openSsh(target, settings.credentials, settings.hostKey, settings.connectTimeoutSeconds, openSock)
      return new RemoteHost(ssh, name, proxy)
    } catch (error) {
      proxy?.dispose()
      throw error
    }
  }

  /**
   * Runs a script on the server, sent on stdin ahead of `options.stdin` (see
   * launch.ts); never rejects for a non-zero exit, only for a lost connection.
   */
  async run(script: string, options: RunOptions = {}): Promise<ScriptResult> {
    const { command, payload } = launch(script)
    const feed = new PassThrough()
    feed.write(payload)
    if (options.stdin) options.stdin.pipe(feed)
    else feed.end()
    const results: Array<[string, string]> = []
    const chunks: Buffer[] = []
    const stdout = lineSplitter((line) => {
      const parsed = parseResultLine(line)
      if (parsed) results.push(parsed)
    })
    let stderr = ''
    const stderrLines = lineSplitter((line) => options.onLog?.(line))
    const executed = this.ssh.execCommand(command, {
      stdin: feed,
      onStdout: (chunk) => {
        chunks.push(chunk)
        stdout.push(chunk)
      },
      onStderr: (chunk) => {
        stderr += chunk.toString('utf8')
        stderrLines.push(chunk)
      },
      onChannel: (channel) => closeAfterExit(channel, feed, options.stdin)
    })
    const response = await settleOnClose(this.ssh.connection, executed)
    stdout.end()
    stderrLines.end()
    return { code: response.code, signal: response.signal, results, stdout: Buffer.concat(chunks).toString('utf8'), stderr }
  }

  close(): void {
    this.ssh.dispose()
    this.proxy?.dispose()
  }
}

/**
 * The script's outcome, or a lost connection's (code null) when the
 * connection closes first: a channel does not always close with its
 * connection, and a promise left pending would let the process exit 0 with
 * the deploy unfinished.
 */
export function settleOnClose<T extends { code: number | null; signal: string | null }>(
  connection: EventEmitter | null | undefined,
  executed: Promise<T>
): Promise<T | { code: null; signal: null }> {
  if (!connection) return executed
  return new Promise<T | { code: null; signal: null }>((resolve, reject) => {
    const onClose = (): void => resolve({ code: null, signal: null })
    connection.once('close', onClose)
    executed.then(resolve, reject).finally(() => connection.removeListener('close', onClose))
  })
}

/**
 * A hook that starts a background process without redirecting its output
 * keeps the channel open after the script ends. Once the script has exited,
 * give its output a moment to drain, then close the channel ourselves.
 */
function closeAfterExit(channel: ClientChannel, feed: PassThrough, stdin: Readable | undefined): void {
  const stopFeeding = (): void => {
    stdin?.unpipe(feed)
    feed.unpipe(channel)
  }
  channel.on('exit', () => {
    stopFeeding()
    setTimeout(() => channel.close(), DRAIN_AFTER_EXIT_MS).unref()
  })
  channel.on('close', stopFeeding)
  channel.on('error', () => undefined)
}

function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  let pending = ''
  const decoder = new StringDecoder('utf8')
  return {
    push(chunk) {
      pending += decoder.write(chunk)
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      lines.forEach(onLine)
    },
    end() {
      if (pending) onLine(pending)
      pending = ''
    }
  }
}

function explainConnectError(error: Error, name: string, credentials: Credentials, seconds: number, check: HostKeyCheck): ConnectError {
  const message = error.message
  const code = (error as NodeJS.ErrnoException).code
  if (/verification failed/i.test(message) || HOST_KEY_REFUSED.test(message)) return new ConnectError(check.refusal(), false)
  if (/authentication methods failed/i.test(message)) {
    const method = credentials.privateKey ? 'the key' : 'the password'
    return new ConnectError(
      `SSH login to ${name} failed: the server refused ${method}. Check that the matching public key is in ~${credentials.username}/.ssh/authorized_keys on the server, and that the user name is right.`,
      false
    )
  }
  if (code === 'ECONNREFUSED') return new ConnectError(`Cannot connect to ${name}: connection refused. Is sshd running there, and is the port right?`, true)
  if (code === 'ENOTFOUND') return new ConnectError(`Cannot connect to ${name}: the host name does not resolve. Check host.`, false)
  if (code === 'EAI_AGAIN') return new ConnectError(`Cannot connect to ${name}: the host name could not be looked up just now.`, true)
  if (/timed out/i.test(message) || code === 'ETIMEDOUT') {
    return new ConnectError(`Cannot connect to ${name}: no SSH answer within ${seconds} s (connect-timeout). Check host, port and firewalls.`, true)
  }
  if (/lost before handshake/i.test(message)) {
    // What sshd does past MaxStartups (many connections at once, as a reconnect right after a drop may meet): worth another try.
    return new ConnectError(
      `Cannot connect to ${name}: the server closed the connection before the SSH handshake (sshd's MaxStartups limit of unauthenticated connections, or a firewall). Raise retries, or check sshd's log.`,
      true
    )
  }
  if (code === 'ECONNRESET' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new ConnectError(`Cannot connect to ${name}: ${message}.`, true)
  }
  return new ConnectError(`Cannot connect to ${name}: ${message}`, false)
}
