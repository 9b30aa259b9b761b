/** The command-line front end, run from its committed bundle against a real sshd. */
import { spawn } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { treeSnapshot } from '../support/tree'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, settleAfterRun, startSshd } from './sshd-harness'
import { makeWorkspace } from './run-action'
import { asObjects, parseObject } from '../support/json'

const CLI = path.resolve(__dirname, '../../dist/cli/index.js')
let server: TestServer
let keyFile: string
let knownHostsFile: string

beforeAll(async () => {
  server = await startSshd()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-cli-'))
  keyFile = path.join(dir, 'key')
  knownHostsFile = path.join(dir, 'known_hosts')
  fs.writeFileSync(keyFile, server.userKey, { mode: 0o600 })
  fs.writeFileSync(knownHostsFile, server.knownHosts)
})
afterAll(async () => {
  await server?.stop()
})

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH!, HOME: os.tmpdir(), ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  const settled = async (code: number | null) => {
    await settleAfterRun(stdout + stderr, args[args.indexOf('--path') + 1])
    return { code, stdout, stderr }
  }
  return new Promise((resolve) => child.on('close', (code) => void settled(code).then(resolve)))
}

function connection(): string[] {
  return ['--host', `127.0.0.1:${server.port}`, '--username', server.username, '--ssh-key-file', keyFile, '--known-hosts-file', knownHostsFile]
}

const snapshot = (root: string): string[] => treeSnapshot(root)

describe('atomic-deploy command line', () => {
  it('prints help for the tool and for each command', async () => {
    const general = await cli(['--help'])
    expect(general.code).toBe(0)
    for (const command of ['deploy', 'rollback', 'list', 'unlock']) expect(general.stdout).toContain(command)
    const deployHelp = await cli(['deploy', '--help'])
    expect(deployHelp.code).toBe(0)
    expect(deployHelp.stdout).toContain('--ssh-key-file <path>')
    expect(deployHelp.stdout).not.toContain('--ssh-key <value>')
    expect(deployHelp.stdout).toContain('env: ATOMIC_DEPLOY_HOST')
    expect(deployHelp.stdout).toContain('--dry-run')
  })

  it.each([
    [['frobnicate'], "Unknown command 'frobnicate'"],
    [['deploy', '--no-such-flag'], "Unknown option '--no-such-flag'"],
    [['deploy', '--host', 'h', '--username', 'u', '--path', '/srv/app', '--keep', '0'], "Invalid input 'keep'", { ATOMIC_DEPLOY_PASSWORD: 'p' }],
    [['deploy', '--username', 'u'], "Invalid input 'host'"],
    [['deploy', '--host', 'h', '--username', 'u', '--path', '/srv/app', '--ssh-key-file', '/no/such/key'], '--ssh-key-file /no/such/key: no such file'],
    [
      ['deploy', '--host', 'h', '--username', 'u', '--path', '/srv/app', '--password', 'p'],
      '--password would put a secret on the command line, where other users of this machine can read it (ps). Give it as --password-file <path> or the environment variable ATOMIC_DEPLOY_PASSWORD'
    ]
  ])('exits 2 on bad usage: %j', async (args: string[], message: string, env: Record<string, string> = {}) => {
    const run = await cli(args, env)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(message)
  })

  it('deploys, lists, and rolls back, with options from flags, files and the environment', async () => {
    const root = path.join(server.root, 'cli')
    const env = { ATOMIC_DEPLOY_PATH: root }
    const first = await cli(['deploy', ...connection(), '--source', makeWorkspace({ 'index.html': 'one' }), '--release-id', 'one'], env)
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout.trim()).toBe('one')
    expect(first.stderr).toContain('-----> Switching current to the new release')
    const second = await cli(['deploy', ...connection(), '--source', makeWorkspace({ 'index.html': 'two' }), '--release-id', 'two', '--exclude', '*.log', '--exclude', '.git'], env)
    expect(second.code, second.stderr).toBe(0)
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/two')

    const listed = await cli(['list', ...connection(), '--json'], env)
    expect(listed.code, listed.stderr).toBe(0)
    const outcome = parseObject(listed.stdout, 'list --json')
    expect(asObjects(outcome.releases, 'its releases').map((r) => r.id)).toEqual(['two', 'one'])
    expect(outcome.releaseId).toBe('two')

    const back = await cli(['rollback', ...connection()], env)
    expect(back.code, back.stderr).toBe(0)
    expect(back.stdout.trim()).toBe('one')
    expect(fs.readFileSync(path.join(root, 'current/index.html'), 'utf8')).toBe('one')
  })

  it('exits 1 when the deploy fails on the server', async () => {
    const root = path.join(server.root, 'cli-fail')
    const run = await cli(['deploy', ...connection(), '--path', root, '--source', makeWorkspace({ a: '1' }), '--before-activate', 'exit 9'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('before-activate failed (exit status 9)')
  })

  it('a dry run prints the plan and the scripts, and leaves the server tree byte for byte the same', async () => {
    const root = path.join(server.root, 'cli-dry')
    const base = ['deploy', ...connection(), '--path', root, '--keep', '2']
    for (const id of ['d1', 'd2']) {
      expect((await cli([...base, '--source', makeWorkspace({ v: id }), '--release-id', id])).code).toBe(0)
    }
    const before = snapshot(root)
    const dry = await cli([...base, '--source', makeWorkspace({ v: 'd3', 'more.txt': 'x' }), '--release-id', 'd3', '--dry-run', '--shared', 'storage/'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stderr).toContain('DRY RUN')
    expect(dry.stderr).toContain('release: d3')
    expect(dry.stderr).toContain('upload:  2 entries')
    expect(dry.stderr).toContain('would prune: d1')
    expect(dry.stderr).toContain("RELEASE_ID='d3'")
    expect(dry.stderr).toContain("SHARED_ENTRIES='storage/'")
    expect(snapshot(root)).toEqual(before)
  })
  it('writes --env-file-file into the release (mode 600) and opens --writable folders', async () => {
    const root = path.join(server.root, 'cli-env-file')
    const envFile = path.join(path.dirname(keyFile), 'production.env')
    fs.writeFileSync(envFile, 'DB_PASSWORD=from-a-file\n', { mode: 0o600 })
    const args = ['deploy', ...connection(), '--path', root, '--source', makeWorkspace({ 'index.html': 'cli' }), '--env-file-file', envFile]
    const run = await cli([...args, '--writable', 'storage/', '--writable-mode', 'chmod'])
    expect(run.code, run.stderr).toBe(0)
    expect(fs.readFileSync(path.join(root, 'current', '.env'), 'utf8')).toBe('DB_PASSWORD=from-a-file\n')
    expect((fs.statSync(path.join(root, 'current', '.env')).mode & 0o777).toString(8)).toBe('600')
    expect((fs.statSync(path.join(root, 'current', 'storage')).mode & 0o777).toString(8)).toBe('777')
    expect(run.stdout + run.stderr).not.toContain('from-a-file')
  })
})
