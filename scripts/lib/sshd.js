'use strict'
/**
 * Starts a real OpenSSH sshd on 127.0.0.1 with throwaway keys. Used by the
 * end-to-end tests (through __tests__/e2e/sshd-harness.ts) and by the demo
 * (scripts/demo.js). As root it logs in a dedicated non-root deploy user
 * (created on first use); otherwise it logs in the user running it.
 *
 * Plain CommonJS, no dependencies: it runs under node as is.
 */
const { execFileSync, spawn } = require('child_process')
const fs = require('fs')
const net = require('net')
const os = require('os')
const path = require('path')

const DEPLOY_USER = 'atomicdeploy'
const DEPLOY_USER_PASSWORD = 'correct-horse-battery-7'

const SSHD_CANDIDATES = ['/usr/sbin/sshd', '/usr/local/sbin/sshd', '/sbin/sshd']

/**
 * @typedef {object} TestServer
 * @property {string} host
 * @property {number} port
 * @property {string} username
 * @property {string} userKey Private key text of a key the server accepts.
 * @property {string} knownHosts known_hosts lines for this server, as ssh-keyscan would print them.
 * @property {string} fingerprint SHA256 fingerprint of the server's first host key (ed25519 unless hostKeyTypes says otherwise).
 * @property {HostKeyInfo[]} hostKeys Each host key the server has, in the order of hostKeyTypes.
 * @property {string} root A fresh folder the deploy user owns, to hold deploy roots (as the server sees it).
 * @property {string} backing Where this process sees the server's `root` (differs only with privateRootAt).
 * @property {() => string} log sshd's own log so far.
 * @property {() => Promise<void>} stop Stops sshd and removes its folder.
 * @property {number | undefined} pid Process id of the spawned sshd (or of unshare, which execs it).
 * @property {string} dir The server's own temporary folder (keys, config, srv/).
 */

/**
 * @typedef {object} HostKeyInfo
 * @property {string} keyType As in a known_hosts line: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa.
 * @property {string} fingerprint SHA256:..., as ssh-keygen -l prints it.
 * @property {string} word The type as ssh-keygen -l prints it at the end of its line: ED25519, ECDSA, RSA.
 */

/**
 * @typedef {object} SshdOptions
 * @property {string[]} [hostKeyTypes] ssh-keygen -t types of the server's host keys (default ['ed25519']).
 * @property {string} [extraConfig] Lines appended to sshd_config.
 * @property {string} [privateRootAt] Give this server a filesystem of its own at this path: sshd runs
 *   in a private mount namespace (unshare -m, root only) with its own folder bind-mounted there, so
 *   several servers can share one deploy path.
 * @property {string} [namespace] Run sshd inside this network namespace (`ip netns exec`), listening
 *   on `listenAddress`; readiness is then read from sshd's log, as the port is not reachable from here.
 * @property {string} [listenAddress] Address to listen on (default 127.0.0.1).
 * @property {number} [port] Port to listen on (default: a free one on 127.0.0.1).
 * @property {string} [parentDir] Make the server's temporary folder in here instead of os.tmpdir().
 * @property {string} [userKeyFile] Private key file (with `<file>.pub` beside it) the server accepts,
 *   instead of the key shared by every server of this process.
 * @property {string} [umask] Start sshd with this umask (e.g. '077'); its sessions, and so the deploy
 *   scripts, inherit it, as from a server's login defaults.
 */

/** Thrown when no sshd binary is installed. */
class SshdMissingError extends Error {
  constructor() {
    super(
      'sshd is not installed, and the end-to-end tests need a real one. Install it with: sudo apt-get install -y openssh-server (npm test does this itself when run as root).'
    )
    this.name = 'SshdMissingError'
  }
}

/** @returns {string | undefined} path of the sshd binary, if one is installed */
function locateSshd() {
  return SSHD_CANDIDATES.find((candidate) => fs.existsSync(candidate))
}

/** @returns {string} path of the sshd binary; throws SshdMissingError with the install line when missing */
function findSshd() {
  const found = locateSshd()
  if (!found) throw new SshdMissingError()
  return found
}

/** @returns {Promise<number>} a TCP port free on 127.0.0.1 right now */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = /** @type {net.AddressInfo} */ (server.address())
      server.close(() => resolve(address.port))
    })
  })
}

/**
 * The user the server logs in: the current user, or as root a dedicated
 * non-root user (created on first use, password reset every time).
 * @returns {{ name: string, uid: number, gid: number }}
 */
function ensureDeployUser() {
  if (process.getuid?.() !== 0) {
    const info = os.userInfo()
    return { name: info.username, uid: info.uid, gid: info.gid }
  }
  try {
    execFileSync('id', ['-u', DEPLOY_USER], { stdio: 'ignore' })
  } catch {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', DEPLOY_USER], { stdio: 'inherit' })
  }
  execFileSync('chpasswd', { input: `${DEPLOY_USER}:${DEPLOY_USER_PASSWORD}\n` })
  const uid = Number(execFileSync('id', ['-u', DEPLOY_USER]).toString().trim())
  const gid = Number(execFileSync('id', ['-g', DEPLOY_USER]).toString().trim())
  return { name: DEPLOY_USER, uid, gid }
}

/** @type {string | undefined} */
let userKeyPath
/**
 * One deploy key for every server of this process, as one key usually serves a fleet.
 * @returns {string} path of the private key file
 */
function sharedUserKey() {
  if (!userKeyPath) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-key-'))
    userKeyPath = path.join(dir, 'user_key')
    keygen(userKeyPath, 'ed25519')
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  }
  return userKeyPath
}

/**
 * Makes a key pair without a passphrase: `file` and `file.pub`.
 * @param {string} file
 * @param {string} type
 */
function keygen(file, type) {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'atomic-deploy-test', '-f', file], { stdio: 'ignore' })
}

/**
 * @param {SshdOptions} [options]
 * @returns {Promise<TestServer>}
 */
async function startSshd(options = {}) {
  const sshd = findSshd()
  const user = ensureDeployUser()
  // sshd running as root insists on its privilege separation folder.
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
  const dir = fs.mkdtempSync(path.join(options.parentDir ?? os.tmpdir(), 'atomic-deploy-sshd-'))
  fs.chmodSync(dir, 0o755)
  const hostKeyFiles = (options.hostKeyTypes ?? ['ed25519']).map((type) => {
    const file = path.join(dir, `host_${type}`)
    keygen(file, type)
    return file
  })
  const userKeyFile = options.userKeyFile ?? sharedUserKey()
  const authDir = path.join(dir, 'auth')
  fs.mkdirSync(authDir)
  // sshd reads the keys as the deploy user: 755 whatever the umask (027 would make it 750, root's only).
  fs.chmodSync(authDir, 0o755)
  fs.copyFileSync(`${userKeyFile}.pub`, path.join(authDir, user.name))
  fs.chmodSync(path.join(authDir, user.name), 0o644)
  const backing = path.join(dir, 'srv')
  fs.mkdirSync(backing)
  fs.chownSync(backing, user.uid, user.gid)
  const root = options.privateRootAt ?? backing
  if (options.privateRootAt) {
    if (process.getuid?.() !== 0) throw new Error('A server with a private filesystem needs root (unshare -m and mount --bind).')
    fs.mkdirSync(options.privateRootAt, { recursive: true })
  }

  const address = options.listenAddress ?? '127.0.0.1'
  const port = options.port ?? (await freePort())
  const config = path.join(dir, 'sshd_config')
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      `ListenAddress ${address}`,
      ...hostKeyFiles.map((file) => `HostKey ${file}`),
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authDir}/%u`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin yes',
      'UseDNS no',
      'MaxStartups 100',
      'MaxSessions 100',
      'LogLevel VERBOSE',
      options.extraConfig ?? ''
    ].join('\n')
  )
  let log = ''
  const sshdCommand = options.umask === undefined ? [sshd] : ['sh', '-c', 'umask "$1" && shift && exec "$@"', 'sh', options.umask, sshd]
  const privateRoot = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" "$2" && exec "$3" -D -e -f "$4"', 'sh', backing, root, sshd, config]
  // Both: a filesystem and a network of its own (the mount namespace is made inside the network one).
  const inNamespace = (/** @type {string[]} */ command) => (options.namespace ? ['ip', 'netns', 'exec', options.namespace, ...command] : command)
  const child = options.privateRootAt
    ? spawn(inNamespace(privateRoot)[0], inNamespace(privateRoot).slice(1), { stdio: ['ignore', 'ignore', 'pipe'] })
    : options.namespace
      ? spawn('ip', ['netns', 'exec', options.namespace, sshd, '-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(sshdCommand[0], [...sshdCommand.slice(1), '-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  const stderr = /** @type {import('stream').Readable} */ (child.stderr)
  stderr.on('data', (/** @type {Buffer} */ chunk) => {
    log += chunk.toString()
  })
  try {
    if (options.namespace) await waitForLogLine(/Server listening on/, () => log, child)
    else await waitForPort(port, () => log, child)
  } catch (error) {
    // Leave nothing behind when the server never came up.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
    throw error
  }

  const hostKeys = hostKeyFiles.map(describeHostKey)
  const publicKeys = hostKeyFiles.map((file) => fs.readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' '))
  return {
    host: address,
    port,
    username: user.name,
    userKey: fs.readFileSync(userKeyFile, 'utf8'),
    knownHosts: publicKeys.map((key) => `[${address}]:${port} ${key}\n`).join(''),
    fingerprint: hostKeys[0].fingerprint,
    hostKeys,
    root,
    backing,
    pid: child.pid,
    dir,
    log: () => log,
    stop: async () => {
      // A session's sshd and the shell it runs outlive the listener; end them too,
      // so nothing of this server is still running (or writing) once stop returns.
      const sessions = child.pid ? descendants(child.pid) : []
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      await endProcesses(sessions)
      await settleSpareCopies(backing, { stop: true, ms: 15_000 })
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

/**
 * The spare copies of upload caches (src/remote/sh/lib/spare.sh) that a
 * deploy's finish left running in the background below `root`: outside any
 * session, so a test waits for them before it reads or removes the tree.
 * With `stop`, each is asked to stop, as a run taking the deploy lock does;
 * `depth` bounds how far below `root` deploy folders are looked for.
 * @param {string} root
 * @param {{ stop?: boolean, ms?: number, depth?: number }} [options]
 * @returns {Promise<string[]>} the lock folders still there when `ms` ran out
 */
async function settleSpareCopies(root, options = {}) {
  const deadline = Date.now() + (options.ms ?? 30_000)
  let locks = spareLocks(root, options.depth ?? 6)
  if (options.stop) locks.forEach(askToStop)
  while (locks.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    locks = locks.filter((lock) => fs.existsSync(lock))
  }
  return locks
}

function askToStop(lock) {
  try {
    fs.writeFileSync(path.join(lock, 'stop'), '', { flag: 'a' })
  } catch {
    // The copy ended meanwhile, and its lock with it.
  }
}

/** The .atomic-deploy/spare.lock folders below `dir`, releases and shared folders not searched. */
function spareLocks(dir, depth) {
  const lock = path.join(dir, '.atomic-deploy', 'spare.lock')
  if (fs.existsSync(lock)) return [lock]
  if (depth === 0) return []
  let entries = []
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  return entries
    .filter((entry) => entry.isDirectory() && !['releases', 'shared', '.atomic-deploy', 'current'].includes(entry.name))
    .flatMap((entry) => spareLocks(path.join(dir, entry.name), depth - 1))
}

/**
 * A host key's type and fingerprint, as ssh-keygen -l shows them.
 * @param {string} file private key file, with file.pub beside it
 * @returns {HostKeyInfo}
 */
function describeHostKey(file) {
  const keyType = fs.readFileSync(`${file}.pub`, 'utf8').split(/\s+/)[0]
  const line = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`]).toString().trim()
  const word = /\((\w+)\)$/.exec(line)?.[1] ?? ''
  return { keyType, fingerprint: line.split(/\s+/)[1], word }
}

/** Parent pid of each running process, read from /proc (empty where /proc is missing). */
function parentsByPid() {
  /** @type {Map<number, number>} */
  const parents = new Map()
  let names = []
  try {
    names = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return parents
  }
  for (const name of names) {
    try {
      // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      parents.set(Number(name), Number(fields[1]))
    } catch {
      // ended while we looked
    }
  }
  return parents
}

/** @param {number} root @returns {number[]} every process below `root`, children first */
function descendants(root) {
  const parents = parentsByPid()
  /** @type {number[]} */
  const found = []
  let frontier = [root]
  while (frontier.length > 0) {
    const next = [...parents].filter(([, parent]) => frontier.includes(parent)).map(([pid]) => pid)
    found.push(...next)
    frontier = next
  }
  return found
}

/** @param {number} pid */
function running(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/**
 * SIGTERM, then after 5 s SIGKILL, then waits (up to 5 s more) until none runs.
 * @param {number[]} pids
 */
async function endProcesses(pids) {
  const signal = (/** @type {NodeJS.Signals} */ name) => {
    for (const pid of pids.filter(running)) {
      try {
        process.kill(pid, name)
      } catch {
        // already gone, or not ours
      }
    }
  }
  const waitUntilGone = async (/** @type {number} */ ms) => {
    const deadline = Date.now() + ms
    while (pids.some(running) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  signal('SIGTERM')
  await waitUntilGone(5000)
  signal('SIGKILL')
  await waitUntilGone(5000)
}

/**
 * Waits until the server's log shows `pattern`, failing early if it exits.
 * @param {RegExp} pattern
 * @param {() => string} log
 * @param {import('child_process').ChildProcess} child
 * @returns {Promise<void>}
 */
async function waitForLogLine(pattern, log, child) {
  const deadline = Date.now() + 10_000
  while (!pattern.test(log())) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sshd exited at start (code ${child.exitCode}): ${log()}`)
    if (Date.now() > deadline) throw new Error(`sshd did not start within 10 s: ${log()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * Waits until something listens on 127.0.0.1:port, failing early if the
 * server process exits. Shared by the sshd and nginx test servers.
 * @param {number} port
 * @param {() => string} log the server's output so far, for the error
 * @param {import('child_process').ChildProcess} child
 * @param {string} [what] the server's name, for messages
 * @returns {Promise<void>}
 */
async function waitForPort(port, log, child, what = 'sshd') {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited at start (code ${child.exitCode}): ${log()}`)
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`${what} did not listen on port ${port} within 10 s: ${log()}`)
}

/**
 * A deploy root under the server's folder, owned by the deploy user.
 * @param {{ root: string }} server
 * @param {string} name
 * @returns {string}
 */
function deployRoot(server, name) {
  return path.join(server.root, name)
}

module.exports = {
  DEPLOY_USER,
  DEPLOY_USER_PASSWORD,
  SshdMissingError,
  locateSshd,
  findSshd,
  freePort,
  ensureDeployUser,
  keygen,
  startSshd,
  waitForPort,
  deployRoot,
  settleSpareCopies
}
