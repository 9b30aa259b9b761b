/**
 * Starts Debian's PHP-FPM with a pool on a unix socket, for the PHP stack
 * test: its own configuration, pid file and log in a throwaway folder, the
 * master in the foreground (-F) as a child process that stop() ends. The
 * system's php.ini and conf.d (which load OPcache) apply; the settings given
 * go on the command line (-d), over them.
 */
import { execFileSync, spawn, ChildProcess } from 'child_process'
import * as fs from 'fs'
import * as net from 'net'
import * as os from 'os'
import * as path from 'path'
import { stopChild } from '../support/processes'

export interface TestPhpFpm {
  /** The pool's unix socket. */
  socket: string
  /** The master process (it runs as long as FPM does). */
  masterPid: number
  /** The pids of the master's workers now, sorted. */
  workers(): number[]
  /** FPM's log (and stderr) so far. */
  log(): string
  stop(): Promise<void>
}

export function findPhpFpm(): string {
  const dir = '/usr/sbin'
  const found = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((name) => /^php-fpm[\d.]*$/.test(name))
        .sort()
    : []
  if (found.length === 0)
    throw new Error('PHP-FPM is not installed, and the PHP stack test needs it. Install it with: sudo apt-get install -y php8.2-fpm (npm test does this itself when run as root)')
  return path.join(dir, found[found.length - 1])
}

/** `key=value` lines of an ini block, comments and blank lines skipped. */
function iniSettings(ini: string): string[] {
  return ini
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith(';') && !line.startsWith('['))
    .map((line) => line.replace(/\s*=\s*/, '='))
}

/**
 * PHP-FPM with the pool `pool(socket)` returns (a recipe's, its socket and
 * user filled in) and the php.ini settings of `ini`.
 */
export async function startPhpFpm(pool: (socket: string) => string, ini: string): Promise<TestPhpFpm> {
  const fpm = findPhpFpm()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-php-fpm-'))
  fs.chmodSync(dir, 0o755)
  const socket = path.join(dir, 'app.sock')
  const errorLog = path.join(dir, 'error.log')
  const config = path.join(dir, 'php-fpm.conf')
  fs.writeFileSync(config, ['[global]', `pid = ${path.join(dir, 'php-fpm.pid')}`, `error_log = ${errorLog}`, 'daemonize = no', '', pool(socket), ''].join('\n'))
  // As root FPM refuses to start without -R; the test server is throwaway and local.
  const args = ['-F', '-y', config, ...(process.getuid?.() === 0 ? ['-R'] : []), ...iniSettings(ini).flatMap((setting) => ['-d', setting])]
  try {
    execFileSync(fpm, ['-t', ...args], { stdio: 'pipe' })
  } catch (error) {
    const output = (error as { stderr?: Buffer }).stderr?.toString() ?? ''
    throw new Error(`PHP-FPM rejected the test configuration: ${output}\n${fs.readFileSync(config, 'utf8')}`)
  }
  let output = ''
  const child: ChildProcess = spawn(fpm, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const log = (): string => output + readLog(errorLog)
  const stop = async (): Promise<void> => {
    await stopChild(child)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitForSocket(socket, log, child)
  } catch (error) {
    // An FPM that runs but never listened would outlive the test run.
    await stop()
    throw error
  }
  const masterPid = child.pid!
  return { socket, masterPid, workers: () => childrenOf(masterPid), log, stop }
}

async function waitForSocket(socket: string, log: () => string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`PHP-FPM exited (${child.exitCode}) before listening:\n${log()}`)
    if (await accepts(socket)) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`PHP-FPM did not listen on ${socket} within 30 s:\n${log()}`)
}

function accepts(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const connection = net.connect(socket)
    connection.once('connect', () => {
      connection.destroy()
      resolve(true)
    })
    connection.once('error', () => resolve(false))
  })
}

/** Pids whose parent is `pid`, from /proc, sorted. */
function childrenOf(pid: number): number[] {
  const children: number[] = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The fields after the command's closing parenthesis: state, then ppid.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry))
    } catch {
      // The process ended while the folder was read.
    }
  }
  return children.sort((a, b) => a - b)
}

function readLog(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}
