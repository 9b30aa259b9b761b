/**
 * Runs the committed bundle exactly as the Actions runner does: `node
 * dist/index.js` with INPUT_* variables, and GITHUB_OUTPUT / GITHUB_STATE /
 * GITHUB_STEP_SUMMARY files whose contents are read back afterwards.
 */
import { spawn } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { TestServer, settleAfterRun } from './sshd-harness'

export const BUNDLE = path.resolve(__dirname, '../../dist/index.js')

/**
 * The Node binary that runs the bundle: this one, or the one the test
 * command names to rerun the end-to-end tests under another version
 * (GitHub runs actions on node24; this machine has an older Node).
 */
export const RUNNER_NODE = process.env.ATOMIC_DEPLOY_TEST_NODE || process.execPath

export interface ActionRun {
  code: number | null
  stdout: string
  stderr: string
  outputs: Record<string, string>
  /** State the main step saved for the post step. */
  state: Record<string, string>
  summary: string
}

export interface RunOptions {
  env?: Record<string, string>
  /** State from a main step, to run the post step. */
  state?: Record<string, string>
  /** Kill the process when this text first appears in its output. */
  killOn?: { text: string; signal: NodeJS.Signals }
  /** Sees all of stdout and stderr so far, each time more arrives. */
  onOutput?: (soFar: string) => void
  timeoutMs?: number
}

/** Parses the `name<<DELIMITER ... DELIMITER` file format that @actions/core writes. */
export function parseCommandFile(text: string): Record<string, string> {
  const values: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^<=]+)<<(.+)$/.exec(lines[i])
    if (!heredoc) continue
    const body: string[] = []
    for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) body.push(lines[i])
    values[heredoc[1]] = body.join('\n')
  }
  return values
}

export async function runAction(inputs: Record<string, string>, options: RunOptions = {}): Promise<ActionRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-run-'))
  const files = { output: path.join(dir, 'output'), state: path.join(dir, 'state'), summary: path.join(dir, 'summary') }
  Object.values(files).forEach((file) => fs.writeFileSync(file, ''))
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_STEP_SUMMARY: files.summary,
    RUNNER_TEMP: dir,
    ...options.env
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  for (const [name, value] of Object.entries(options.state ?? {})) env[`STATE_${name}`] = value
  const child = spawn(RUNNER_NODE, [BUNDLE], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const watch = (chunk: Buffer, into: 'out' | 'err'): void => {
    if (into === 'out') stdout += chunk.toString()
    else stderr += chunk.toString()
    if (options.killOn && (stdout + stderr).includes(options.killOn.text) && child.exitCode === null) {
      child.kill(options.killOn.signal)
    }
    options.onOutput?.(stdout + stderr)
  }
  child.stdout.on('data', (chunk: Buffer) => watch(chunk, 'out'))
  child.stderr.on('data', (chunk: Buffer) => watch(chunk, 'err'))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
  clearTimeout(timer)
  await settleAfterRun(stdout + stderr, inputs.path)
  const result: ActionRun = {
    code,
    stdout,
    stderr,
    outputs: parseCommandFile(fs.readFileSync(files.output, 'utf8')),
    state: parseCommandFile(fs.readFileSync(files.state, 'utf8')),
    summary: fs.readFileSync(files.summary, 'utf8')
  }
  fs.rmSync(dir, { recursive: true, force: true })
  return result
}

/** The inputs every test needs to reach the test server with a key and a pinned host key. */
export function connectionInputs(server: TestServer): Record<string, string> {
  return {
    host: `${server.host}:${server.port}`,
    username: server.username,
    'ssh-key': server.userKey,
    'known-hosts': server.knownHosts
  }
}

/** A workspace folder with the given files (path -> content). */
export function makeWorkspace(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-ws-'))
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), content)
  }
  return dir
}
