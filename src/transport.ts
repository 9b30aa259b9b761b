import { Readable } from 'stream'
import { NodeSSH, Config } from 'node-ssh'
import { ClientChannel } from 'ssh2'
import { DeploySettings } from './settings'
import { HostKeyCheck } from './host-key'
import { describeHost } from './host-address'
import { quote } from './remote-script/quote'

/** What one remote script printed and how it ended. */
export interface ScriptResult {
  code: number | null
  /** `@@key value` lines, in order. */
  results: Array<[string, string]>
  stderr: string
}

export interface RunOptions {
  stdin?: Readable
  /** Each line the script writes to stderr (step banners, hook output), as it comes. */
  onLog?: (line: string) => void
}

/** After the script exits, how long to wait for its output to drain before closing the channel. */
const DRAIN_AFTER_EXIT_MS = 2000

/** A remote script longer than this cannot be passed as one argument (Linux MAX_ARG_STRLEN is 128 KiB). */
const MAX_SCRIPT_BYTES = 120 * 1024

export class ConnectError extends Error {}

/** One SSH connection to one server, reused for every script of a run. */
export class RemoteHost {
  private constructor(
    private readonly ssh: NodeSSH,
    readonly name: string
  ) {}

  static async connect(settings: DeploySettings): Promise<RemoteHost> {
    const check = new HostKeyCheck(settings.hostKey, settings.target)
    const name = `${settings.credentials.username}@${describeHost(settings.target)}`
    const serverHostKey = check.serverHostKeyAlgorithms()
    const config: Config = {
      host: settings.target.host,
      port: settings.target.port,
      username: settings.credentials.username,
      privateKey: settings.credentials.privateKey,
      passphrase: settings.credentials.passphrase,
      password: settings.credentials.password,
      readyTimeout: settings.connectTimeoutSeconds * 1000,
      keepaliveInterval: 15000,
      hostVerifier: (key: Buffer) => check.verify(key),
      ...(serverHostKey ? { algorithms: { serverHostKey: serverHostKey as never } } : {})
    }
    const ssh = new NodeSSH()
    try {
      await ssh.connect(config)
    } catch (error) {
      ssh.dispose()
      throw new ConnectError(explainConnectError(error as Error, name, settings, check))
    }
    return new RemoteHost(ssh, name)
  }

  /** Runs a script with `sh -c` on the server; never rejects for a non-zero exit, only for a lost connection. */
  async run(script: string, options: RunOptions = {}): Promise<ScriptResult> {
    if (Buffer.byteLength(script) > MAX_SCRIPT_BYTES) {
      throw new Error('The remote script is too long to pass to the server; shorten the hooks or move them into a script file in the release.')
    }
    const results: Array<[string, string]> = []
    const stdout = lineSplitter((line) => {
      const match = /^@@(\S+) ?(.*)$/.exec(line)
      if (match) results.push([match[1], match[2]])
    })
    let stderr = ''
    const stderrLines = lineSplitter((line) => options.onLog?.(line))
    const response = await this.ssh.execCommand(`sh -c ${quote(script)}`, {
      stdin: options.stdin,
      onStdout: (chunk) => stdout.push(chunk),
      onStderr: (chunk) => {
        stderr += chunk.toString('utf8')
        stderrLines.push(chunk)
      },
      onChannel: (channel) => closeAfterExit(channel, options.stdin)
    })
    stdout.end()
    stderrLines.end()
    return { code: response.code, results, stderr }
  }

  close(): void {
    this.ssh.dispose()
  }
}

/**
 * A hook that starts a background process without redirecting its output
 * keeps the channel open after the script ends. Once the script has exited,
 * give its output a moment to drain, then close the channel ourselves.
 */
function closeAfterExit(channel: ClientChannel, stdin: Readable | undefined): void {
  channel.on('exit', () => {
    stdin?.unpipe(channel)
    setTimeout(() => channel.close(), DRAIN_AFTER_EXIT_MS).unref()
  })
  channel.on('close', () => stdin?.unpipe(channel))
  channel.on('error', () => undefined)
}

function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  let pending = ''
  return {
    push(chunk) {
      pending += chunk.toString('utf8')
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

function explainConnectError(error: Error, name: string, settings: DeploySettings, check: HostKeyCheck): string {
  const message = error.message
  const code = (error as NodeJS.ErrnoException).code
  const seconds = settings.connectTimeoutSeconds
  if (/verification failed|host denied/i.test(message)) return check.refusal()
  if (/authentication methods failed/i.test(message)) {
    const method = settings.credentials.privateKey ? 'the key in ssh-key' : 'the password'
    return `SSH login to ${name} failed: the server refused ${method}. Check that the matching public key is in ~${settings.credentials.username}/.ssh/authorized_keys on the server, and that username is right.`
  }
  if (code === 'ECONNREFUSED') return `Cannot connect to ${name}: connection refused. Is sshd running there, and is the port right?`
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `Cannot connect to ${name}: the host name does not resolve. Check host.`
  if (/timed out/i.test(message) || code === 'ETIMEDOUT') {
    return `Cannot connect to ${name}: no SSH answer within ${seconds} s (connect-timeout). Check host, port and firewalls.`
  }
  return `Cannot connect to ${name}: ${message}`
}
