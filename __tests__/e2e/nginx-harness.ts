/**
 * Starts a real nginx on 127.0.0.1 that serves `<deployRoot>/current/public`,
 * for the zero-downtime tests. Every path nginx writes (pid, logs, temp
 * folders) lies in a throwaway folder; nginx runs in the foreground
 * (`daemon off;`) as a child process that stop() ends.
 */
import { execFileSync, spawn, ChildProcess } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { stopChild } from '../support/processes'
import { freePort, waitForPort } from './sshd-harness'

export interface TestNginx {
  port: number
  /** The document root nginx was given. */
  root: string
  /** nginx's error log (and stderr) so far. */
  log(): string
  stop(): Promise<void>
}

export function findNginx(): string {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    if (fs.existsSync(candidate)) return candidate
  }
  throw new Error('nginx is not installed, and the zero-downtime tests need a real web server. Install it with: sudo apt-get install -y nginx-light')
}

/** Debian's (nginx-common): the FastCGI parameters a PHP location includes. */
const FASTCGI_PARAMS = '/etc/nginx/fastcgi_params'

export interface NginxOptions {
  /** The `server { ... }` block for this port (a recipe's, its paths and port filled in), instead of the plain one. */
  server?: (port: number) => string
  /** Run inside this network namespace (ip netns exec), listening on every address of it at `port`. */
  namespace?: string
  port?: number
  /** Waits until nginx answers (inside a namespace the test's 127.0.0.1 does not reach it). */
  ready?: () => Promise<void>
  /** More lines inside the plain server block. */
  serverLines?: string[]
}

/**
 * nginx serving `<deployRoot>/current/public` on a free port of 127.0.0.1
 * (or, in a namespace, on `port` there), or with the server block that
 * `server(port)` returns. Its `include fastcgi_params;` finds the system's
 * file, copied next to the configuration.
 */
export async function startNginx(deployRoot: string, given: NginxOptions | ((port: number) => string) = {}): Promise<TestNginx> {
  const options: NginxOptions = typeof given === 'function' ? { server: given } : given
  const nginx = findNginx()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-nginx-'))
  const port = options.port ?? (await freePort())
  const root = path.join(deployRoot, 'current/public')
  if (fs.existsSync(FASTCGI_PARAMS)) fs.copyFileSync(FASTCGI_PARAMS, path.join(dir, 'fastcgi_params'))
  const errorLog = path.join(dir, 'error.log')
  const temp = (name: string): string => {
    fs.mkdirSync(path.join(dir, name))
    return path.join(dir, name)
  }
  const asRoot = process.getuid?.() === 0
  const config = path.join(dir, 'nginx.conf')
  fs.writeFileSync(
    config,
    [
      'daemon off;',
      'master_process on;',
      // As root, workers would otherwise run as nobody, who may not be able to
      // read the deploy user's tree; the test server is throwaway and local.
      asRoot ? 'user root;' : '',
      'worker_processes 1;',
      `pid ${path.join(dir, 'nginx.pid')};`,
      `lock_file ${path.join(dir, 'nginx.lock')};`,
      `error_log ${errorLog} warn;`,
      'events { worker_connections 256; }',
      'http {',
      '  types { text/html html; text/plain txt; }',
      '  default_type application/octet-stream;',
      '  access_log off;',
      `  client_body_temp_path ${temp('body')};`,
      `  proxy_temp_path ${temp('proxy')};`,
      `  fastcgi_temp_path ${temp('fastcgi')};`,
      `  uwsgi_temp_path ${temp('uwsgi')};`,
      `  scgi_temp_path ${temp('scgi')};`,
      // Every request resolves current/public afresh: nothing cached across a switch.
      '  open_file_cache off;',
      '  keepalive_timeout 120s;',
      '  keepalive_requests 1000000;',
      options.server
        ? options.server(port)
        : [
            '  server {',
            options.namespace ? `    listen ${port};` : `    listen 127.0.0.1:${port};`,
            '    server_name localhost;',
            `    root ${root};`,
            ...(options.serverLines ?? []),
            '  }'
          ].join('\n'),
      '}',
      ''
    ].join('\n')
  )
  try {
    execFileSync(nginx, ['-t', '-q', '-e', errorLog, '-p', dir, '-c', config], { stdio: 'pipe' })
  } catch (error) {
    const output = (error as { stderr?: Buffer }).stderr?.toString() ?? ''
    throw new Error(`nginx rejected the test configuration: ${output}${readLog(errorLog)}\n${fs.readFileSync(config, 'utf8')}`)
  }
  let output = ''
  const command = [nginx, '-e', errorLog, '-p', dir, '-c', config]
  const child: ChildProcess = options.namespace
    ? spawn('ip', ['netns', 'exec', options.namespace, ...command], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const log = (): string => output + readLog(errorLog)
  const stop = async (): Promise<void> => {
    await stopChild(child)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    if (options.ready) await options.ready()
    else await waitForPort(port, log, child, 'nginx')
  } catch (error) {
    // An nginx that runs but never listened would outlive the test run.
    await stop()
    throw error
  }
  return { port, root, log, stop }
}

function readLog(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}
