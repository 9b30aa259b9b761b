/**
 * Starts a real OpenSSH sshd on 127.0.0.1 with throwaway keys, for the
 * end-to-end tests. As root it logs in a dedicated non-root deploy user
 * (created on first use); otherwise it logs in the user running the tests.
 */
import { execFileSync, spawn, ChildProcess } from 'child_process'
import * as fs from 'fs'
import * as net from 'net'
import * as os from 'os'
import * as path from 'path'

export const DEPLOY_USER = 'atomicdeploy'
export const DEPLOY_USER_PASSWORD = 'correct-horse-battery-7'

export interface TestServer {
  host: string
  port: number
  username: string
  /** Private key text of a key the server accepts. */
  userKey: string
  /** known_hosts lines for this server, as ssh-keyscan would print them. */
  knownHosts: string
  /** SHA256 fingerprint of the server's ed25519 host key. */
  fingerprint: string
  /** A fresh folder the deploy user owns, to hold deploy roots (as the server sees it). */
  root: string
  /** Where the test process sees the server's `root` (differs only with privateRootAt). */
  backing: string
  /** sshd's own log so far. */
  log(): string
  stop(): Promise<void>
}

export function findSshd(): string {
  for (const candidate of ['/usr/sbin/sshd', '/usr/local/sbin/sshd', '/sbin/sshd']) {
    if (fs.existsSync(candidate)) return candidate
  }
  throw new Error(
    'sshd is not installed, and the end-to-end tests need a real one. Install it with: sudo apt-get install -y openssh-server (npm test does this itself when run as root).'
  )
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function ensureDeployUser(): { name: string; uid: number; gid: number } {
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

let userKeyPath: string | undefined
/** One deploy key for every server of a test file, as one key usually serves a fleet. */
function sharedUserKey(): string {
  if (!userKeyPath) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-key-'))
    userKeyPath = path.join(dir, 'user_key')
    keygen(userKeyPath, 'ed25519')
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  }
  return userKeyPath
}

function keygen(file: string, type: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'atomic-deploy-test', '-f', file], { stdio: 'ignore' })
}

export interface SshdOptions {
  extraConfig?: string
  /**
   * Give this server a filesystem of its own at this path: sshd runs in a
   * private mount namespace (unshare -m, root only) with its own folder
   * bind-mounted there, so several servers can share one deploy path.
   */
  privateRootAt?: string
}

export async function startSshd(options: SshdOptions = {}): Promise<TestServer> {
  const sshd = findSshd()
  const user = ensureDeployUser()
  // sshd running as root insists on its privilege separation folder.
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-sshd-'))
  fs.chmodSync(dir, 0o755)
  const hostKey = path.join(dir, 'host_ed25519')
  keygen(hostKey, 'ed25519')
  const userKeyFile = sharedUserKey()
  const authDir = path.join(dir, 'auth')
  fs.mkdirSync(authDir, { mode: 0o755 })
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

  const port = await freePort()
  const config = path.join(dir, 'sshd_config')
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
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
  const child: ChildProcess = options.privateRootAt
    ? spawn(
        'unshare',
        ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" "$2" && exec "$3" -D -e -f "$4"', 'sh', backing, root, sshd, config],
        { stdio: ['ignore', 'ignore', 'pipe'] }
      )
    : spawn(sshd, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString()
  })
  await waitForPort(port, () => log, child)

  const publicKey = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ')
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`]).toString().split(/\s+/)[1]
  return {
    host: '127.0.0.1',
    port,
    username: user.name,
    userKey: fs.readFileSync(userKeyFile, 'utf8'),
    knownHosts: `[127.0.0.1]:${port} ${publicKey}\n`,
    fingerprint,
    root,
    backing,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

async function waitForPort(port: number, log: () => string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited at start (code ${child.exitCode}): ${log()}`)
    const open = await new Promise<boolean>((resolve) => {
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
  throw new Error(`sshd did not listen on port ${port} within 10 s: ${log()}`)
}

/** A deploy root under the server's folder, owned by the deploy user. */
export function deployRoot(server: TestServer, name: string): string {
  return path.join(server.root, name)
}
