'use strict'
/**
 * A small SSH server for `npm run demo` on a machine without OpenSSH's sshd:
 * ssh2's Server (installed with node-ssh) on 127.0.0.1 only, a throwaway
 * ed25519 host key made in memory, and one accepted user key.
 *
 * It serves exec requests and nothing else (no shell, pty, sftp or
 * forwarding): each runs `/bin/sh -c <command>` as the user running this
 * process, in its own process group, with the variables of the session's env
 * requests. The channel's stdin goes to the command byte for byte, and the
 * client's EOF closes the command's stdin; the command's stdout and stderr
 * come back; when it ends, its exit status (or signal) is sent once all its
 * output is out, then EOF and close, in OpenSSH's order. A channel the client
 * closes first hangs up its command, as sshd does.
 *
 * Not part of the product: only the demo uses it.
 */
const { spawn } = require('child_process')
const crypto = require('crypto')
const os = require('os')
const { Server, utils } = require('ssh2')

const HOST = '127.0.0.1'

/** @returns {{ privateKey: string, publicKey: string }} an ed25519 pair in OpenSSH's formats */
function generateKeyPair(comment = 'atomic-deploy-demo') {
  const pair = utils.generateKeyPairSync('ed25519', { comment })
  return { privateKey: pair.private, publicKey: pair.public }
}

/** SHA256:..., as ssh-keygen -l prints it. @param {string} publicKeyLine */
function fingerprint(publicKeyLine) {
  const blob = Buffer.from(publicKeyLine.split(' ')[1], 'base64')
  return `SHA256:${crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

/** @param {{ algo: string, data: Buffer }} offered @param {import('ssh2').ParsedKey} allowed */
function sameKey(offered, allowed) {
  const expected = allowed.getPublicSSH()
  return offered.algo === allowed.type && offered.data.length === expected.length && crypto.timingSafeEqual(offered.data, expected)
}

/** What sshd puts in a session's environment, for this process's user. @param {Record<string, string>} requested */
function commandEnv(requested) {
  const user = os.userInfo()
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: user.homedir, USER: user.username, LOGNAME: user.username, SHELL: '/bin/sh', ...requested }
}

/** Signals the command's whole process group (it was started detached), if it still runs. @param {import('child_process').ChildProcess} child @param {NodeJS.Signals} signal */
function signalGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // the group is already gone
  }
}

/**
 * Resolves once everything written to `stream` before this call has been
 * sent: an empty write completes only after the writes queued ahead of it.
 * @param {NodeJS.WritableStream} stream
 */
function flushed(stream) {
  return new Promise((resolve) => stream.write(Buffer.alloc(0), () => resolve(undefined)))
}

/**
 * Runs one exec request on its channel.
 * @param {import('ssh2').ServerChannel} channel
 * @param {string} command
 * @param {Record<string, string>} env
 * @param {Set<import('child_process').ChildProcess>} running
 * @returns {import('child_process').ChildProcess}
 */
function runCommand(channel, command, env, running) {
  const child = spawn('/bin/sh', ['-c', command], { cwd: os.homedir(), env: commandEnv(env), stdio: 'pipe', detached: true })
  running.add(child)
  const stdin = /** @type {import('stream').Writable} */ (child.stdin)
  const stdout = /** @type {import('stream').Readable} */ (child.stdout)
  const stderr = /** @type {import('stream').Readable} */ (child.stderr)
  // The command may end without reading all its input: that is its choice, not an error here.
  stdin.on('error', () => {})
  channel.pipe(stdin)
  stdout.pipe(channel, { end: false })
  stderr.pipe(channel.stderr, { end: false })

  const channelClosed = new Promise((resolve) => channel.once('close', resolve))
  // As when sshd's session process ends: the command's pipes close and its group gets SIGHUP.
  // (A closed channel never finishes a write, so output piped into it would stall, never reaching 'close'.)
  channelClosed.then(() => {
    for (const pipe of [stdin, stdout, stderr]) pipe.destroy()
    signalGroup(child, 'SIGHUP')
  })
  /** @type {Error | undefined} */
  let spawnError
  child.once('error', (error) => {
    spawnError = error
    channel.stderr.write(`embedded sshd: cannot run /bin/sh: ${error.message}\n`)
  })
  // 'close' comes after the command's stdout and stderr have ended, so all its output has been written to the channel.
  child.once('close', async (code, signal) => {
    running.delete(child)
    const sent = await Promise.race([Promise.all([flushed(channel), flushed(channel.stderr)]).then(() => true), channelClosed.then(() => false)])
    if (!sent) return
    try {
      if (spawnError) channel.exit(127)
      else if (signal) channel.exit(signal, false, '')
      else channel.exit(code ?? 255)
      channel.end()
    } catch {
      // The connection ended (stop(), or the client went away) before the channel said so: no one to tell.
    }
  })
  return child
}

/**
 * Starts the server on a free port of 127.0.0.1.
 * @param {{ userPublicKey: string }} options the one key (an OpenSSH public key line) it accepts
 * @returns {Promise<{ host: string, port: number, username: string, knownHosts: string, fingerprint: string, stop: () => Promise<void>, killNow: () => void }>}
 */
function startEmbeddedSshd({ userPublicKey }) {
  const username = os.userInfo().username
  const allowed = utils.parseKey(userPublicKey)
  if (allowed instanceof Error) throw allowed
  const host = generateKeyPair('atomic-deploy-demo-host')
  /** @type {Set<import('child_process').ChildProcess>} */
  const running = new Set()
  /** @type {Set<import('ssh2').Connection>} */
  const clients = new Set()

  // Compression is required, not offered: ssh2 refuses any packet over 35000 bytes (RFC 4253's
  // minimum; OpenSSH takes 256 KiB), and an exec request that carries a whole deploy script is
  // longer than that as text, though far shorter compressed.
  /** @type {import('ssh2').Algorithms} */
  const algorithms = { compress: ['zlib@openssh.com', 'zlib'] }
  const server = new Server({ hostKeys: [host.privateKey], algorithms }, (client) => {
    clients.add(client)
    client.on('close', () => clients.delete(client))
    // A client that goes away mid-handshake or mid-command ends its connection, not the demo.
    client.on('error', (error) => {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'ECONNRESET') process.stderr.write(`embedded sshd: ${error.message}\n`)
    })
    client.on('authentication', (ctx) => {
      const keyOk = ctx.method === 'publickey' && ctx.username === username && sameKey(ctx.key, allowed)
      // Without a signature the client only asks whether the key would do; with one, it must verify.
      if (!keyOk || (ctx.signature && allowed.verify(ctx.blob ?? Buffer.alloc(0), ctx.signature, ctx.hashAlgo) !== true)) return ctx.reject(['publickey'])
      ctx.accept()
    })
    client.on('session', (accept) => {
      const session = accept()
      /** @type {Record<string, string>} */
      const env = {}
      session.on('env', (acceptEnv, _reject, info) => {
        env[info.key] = info.val
        acceptEnv?.()
      })
      /** @type {import('child_process').ChildProcess | undefined} */
      let child
      session.on('exec', (acceptExec, _reject, info) => {
        child = runCommand(acceptExec(), info.command, env, running)
      })
      // A signal request goes to the command's shell, as sshd sends it.
      session.on('signal', (acceptSignal, _reject, info) => {
        try {
          child?.kill(/** @type {NodeJS.Signals} */ (`SIG${info.name}`))
        } catch {
          // not a signal this system knows
        }
        acceptSignal?.()
      })
    })
  })

  const killNow = () => {
    for (const child of running) signalGroup(child, 'SIGKILL')
  }
  const stop = async () => {
    for (const child of running) signalGroup(child, 'SIGTERM')
    for (const client of clients) client.end()
    const closed = new Promise((resolve) => server.close(() => resolve(undefined)))
    // Bounded: a command that ignores SIGTERM is killed after 5 s.
    const deadline = Date.now() + 5000
    while (running.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    killNow()
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000))])
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const port = /** @type {import('net').AddressInfo} */ (server.address()).port
      const hostKeyLine = host.publicKey.split(' ').slice(0, 2).join(' ')
      resolve({ host: HOST, port, username, knownHosts: `[${HOST}]:${port} ${hostKeyLine}\n`, fingerprint: fingerprint(host.publicKey), stop, killNow })
    })
  })
}

module.exports = { generateKeyPair, startEmbeddedSshd }
