/**
 * Self-hosted runners and laptops keep their temporary folder between runs:
 * the bundle, run as the runner runs it (the action) and as a shell runs it
 * (the command line), leaves nothing there however it ends: a deploy that
 * succeeds, one that fails, one stopped by a signal it may catch, one killed
 * with SIGKILL. TMPDIR and RUNNER_TEMP both point at a folder of the test's
 * own, so a file made under either is seen.
 */
import { spawn } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, freePort, startSshd } from './sshd-harness'
import { RUNNER_NODE, connectionInputs, makeWorkspace, runAction } from './run-action'

const CLI = path.resolve(__dirname, '../../dist/cli/index.js')
const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGKILL']
/** Printed by the server once the upload is in and the hook runs: the deploy is under way. */
const MID_DEPLOY = 'Running before-activate'

let server: TestServer
let keyFile: string
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-runner-temp-'))

beforeAll(async () => {
  server = await startSshd()
  keyFile = path.join(scratch, 'key')
  fs.writeFileSync(keyFile, server.userKey, { mode: 0o600 })
})
afterAll(async () => {
  await server?.stop()
  fs.rmSync(scratch, { recursive: true, force: true })
})

interface Deploy {
  /** host:port to deploy to, and known_hosts lines for it. */
  target: string
  knownHosts: string
  root: string
  hook?: string
  kill?: NodeJS.Signals
}

interface Ended {
  code: number | null
  output: string
}

type FrontEnd = (deploy: Deploy, temp: string) => Promise<Ended>

async function viaAction(deploy: Deploy, temp: string): Promise<Ended> {
  const inputs = {
    ...connectionInputs(server),
    host: deploy.target,
    'known-hosts': deploy.knownHosts,
    path: deploy.root,
    source: makeWorkspace({ 'index.html': 'hello' }),
    retries: '0'
  }
  const run = await runAction(deploy.hook ? { ...inputs, 'before-activate': deploy.hook } : inputs, {
    env: { TMPDIR: temp, RUNNER_TEMP: temp },
    killOn: deploy.kill ? { text: MID_DEPLOY, signal: deploy.kill } : undefined
  })
  return { code: run.code, output: run.stdout + run.stderr }
}

async function viaCli(deploy: Deploy, temp: string): Promise<Ended> {
  const knownHostsFile = fs.mkdtempSync(path.join(scratch, 'known-hosts-')) + '/known_hosts'
  fs.writeFileSync(knownHostsFile, deploy.knownHosts)
  const args = [CLI, 'deploy', '--host', deploy.target, '--username', server.username, '--ssh-key-file', keyFile, '--known-hosts-file', knownHostsFile]
  args.push('--path', deploy.root, '--source', makeWorkspace({ 'index.html': 'hello' }), '--retries', '0')
  if (deploy.hook) args.push('--before-activate', deploy.hook)
  const child = spawn(RUNNER_NODE, args, { env: { PATH: process.env.PATH!, HOME: scratch, TMPDIR: temp, RUNNER_TEMP: temp }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const watch = (chunk: Buffer): void => {
    output += chunk.toString()
    if (deploy.kill && output.includes(MID_DEPLOY) && child.exitCode === null) child.kill(deploy.kill)
  }
  child.stdout.on('data', watch)
  child.stderr.on('data', watch)
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(guard)
  return { code, output }
}

/** A temporary folder for one run of the bundle, empty at the start. */
function freshTemp(): string {
  return fs.mkdtempSync(path.join(scratch, 'temp-'))
}

describe.each([
  ['action', viaAction],
  ['command line', viaCli]
] as [string, FrontEnd][])('the %s leaves nothing in TMPDIR or RUNNER_TEMP', (name, run) => {
  const slug = name.replace(' ', '-')
  const live = (root: string): Deploy => ({ target: `${server.host}:${server.port}`, knownHosts: server.knownHosts, root: path.join(server.root, `${slug}-${root}`) })

  it('after a deploy that succeeds', async () => {
    const temp = freshTemp()
    const ended = await run(live('ok'), temp)
    expect(ended.code, ended.output).toBe(0)
    expect(fs.readdirSync(temp)).toEqual([])
  })

  it('after a deploy that fails: nothing listens at the address', async () => {
    const temp = freshTemp()
    const port = await freePort()
    // The server's key pinned for the address too, so the run gets as far as connecting.
    const knownHosts = server.knownHosts.replace(`]:${server.port} `, `]:${port} `)
    const ended = await run({ ...live('refused'), target: `${server.host}:${port}`, knownHosts }, temp)
    expect(ended.output).toContain('refused')
    expect(ended.code, ended.output).toBe(1)
    expect(fs.readdirSync(temp)).toEqual([])
  })

  it('after a deploy whose hook fails on the server', async () => {
    const temp = freshTemp()
    const ended = await run({ ...live('hook'), hook: 'exit 3' }, temp)
    expect(ended.code, ended.output).toBe(1)
    expect(fs.readdirSync(temp)).toEqual([])
  })

  it.each(SIGNALS)('after %s mid-deploy', async (signal) => {
    const temp = freshTemp()
    const ended = await run({ ...live(signal), hook: 'sleep 10', kill: signal }, temp)
    // Ended by the signal itself, while the hook ran.
    expect(ended.code, ended.output).toBe(null)
    expect(ended.output).toContain(MID_DEPLOY)
    expect(fs.readdirSync(temp)).toEqual([])
  })
})
