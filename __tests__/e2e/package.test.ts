/**
 * The npm package, as GitLab CI or Jenkins gets it with `npx atomic-deploy@<version>`:
 * `npm pack` holds exactly the files the CLI runs from, the tarball installs
 * into an empty folder with no registry (an empty npm cache and --offline: a
 * single dependency to fetch would fail the install), and the installed
 * `atomic-deploy` prints its help and deploys to a real sshd.
 */
import { execFileSync, spawn } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { makeWorkspace } from './run-action'

const REPO = path.resolve(__dirname, '../..')
// Everything the bundled CLI needs at run time, and what npm always adds; nothing from src/, __tests__ or node_modules.
const PACKED = ['LICENSE', 'README.md', 'dist/cli/index.js', 'dist/cli/licenses.txt', 'package.json']

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-package-'))
let server: TestServer
afterAll(async () => {
  await server?.stop()
  fs.rmSync(tmp, { recursive: true, force: true })
})

/** npm with a cache of its own (empty at first) and no update check, whatever the caller's npm settings. */
function npm(args: string[], cwd: string): string {
  const env = {
    ...process.env,
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`,
    HOME: tmp,
    npm_config_cache: path.join(tmp, 'npm-cache'),
    npm_config_userconfig: path.join(tmp, 'no-npmrc'),
    npm_config_update_notifier: 'false'
  }
  return execFileSync('npm', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

interface Packed {
  tarball: string
  files: string[]
}

function pack(): Packed {
  const out = npm(['pack', '--json', '--pack-destination', tmp], REPO)
  const [result] = JSON.parse(out) as { filename: string; files: { path: string }[] }[]
  return { tarball: path.join(tmp, result.filename), files: result.files.map((file) => file.path).sort() }
}

function run(file: string, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(file, args, { cwd, env: { PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`, HOME: tmp } })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

describe('the npm package', () => {
  let packed: Packed
  const app = path.join(tmp, 'app')
  const bin = path.join(app, 'node_modules/.bin/atomic-deploy')

  beforeAll(async () => {
    server = await startSshd()
    packed = pack()
    fs.mkdirSync(app)
    npm(['install', '--offline', '--no-audit', '--no-fund', packed.tarball], app)
  })

  it('packs exactly the bundled CLI, its licenses, README, LICENSE and package.json', () => {
    expect(packed.files).toEqual(PACKED)
    // What the tarball itself holds, not only what npm says it put there.
    const entries = execFileSync('tar', ['-tzf', packed.tarball], { encoding: 'utf8' }).trim().split('\n').sort()
    expect(entries).toEqual(PACKED.map((file) => `package/${file}`))
  })

  it('installs with no registry and no dependencies', () => {
    expect(fs.readdirSync(path.join(app, 'node_modules')).sort()).toEqual(['.bin', '.package-lock.json', 'atomic-deploy'])
    const manifest = JSON.parse(fs.readFileSync(path.join(app, 'node_modules/atomic-deploy/package.json'), 'utf8')) as Record<string, unknown>
    expect(manifest.dependencies).toBeUndefined()
    expect(manifest.bin).toEqual({ 'atomic-deploy': 'dist/cli/index.js' })
  })

  it('runs atomic-deploy --help from node_modules/.bin', async () => {
    const help = await run(bin, ['--help'], app)
    expect(help.code, help.stderr).toBe(0)
    for (const command of ['deploy', 'rollback', 'list', 'unlock']) expect(help.stdout).toContain(command)
  })

  it('deploys to a real sshd from node_modules/.bin', async () => {
    const keyFile = path.join(tmp, 'key')
    const knownHostsFile = path.join(tmp, 'known_hosts')
    fs.writeFileSync(keyFile, server.userKey, { mode: 0o600 })
    fs.writeFileSync(knownHostsFile, server.knownHosts)
    const root = path.join(server.root, 'from-npm')
    const source = makeWorkspace({ 'index.html': 'installed from the tarball' })
    const connection = ['--host', `127.0.0.1:${server.port}`, '--username', server.username, '--ssh-key-file', keyFile, '--known-hosts-file', knownHostsFile]
    const deploy = await run(bin, ['deploy', ...connection, '--path', root, '--source', source, '--release-id', 'npm-1'], app)
    expect(deploy.code, deploy.stderr).toBe(0)
    expect(deploy.stdout.trim()).toBe('npm-1')
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/npm-1')
    expect(fs.readFileSync(path.join(root, 'current/index.html'), 'utf8')).toBe('installed from the tarball')
  })
})
