/**
 * env-file through the committed bundle against a real sshd: the file's
 * mode and content in the release, before before-activate runs; its text in
 * no captured output, in no process's argv while the deploy runs (with a
 * positive control for the sampler), nowhere in the tool's state folder (the
 * upload cache and its manifest); a hard-linked release from the cache gets
 * its own file; a failed deploy leaves the live file alone; a rollback brings
 * back the file of the release rolled back to.
 */
import { randomBytes } from 'crypto'
import * as fs from 'fs'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { ActionRun, connectionInputs, makeWorkspace, runAction } from './run-action'
import { sampleArgvWhile, secretsShown } from '../support/secrets'

const TAG = randomBytes(6).toString('hex')
const VISIBLE = `visible-marker-${randomBytes(6).toString('hex')}`
/** A .env as users paste it into a secret: Windows line ends, a quote, a $. */
const envText = (release: string): string => `APP_ENV=production\r\nAPP_KEY=base64:${release}-${TAG}\r\nDB_PASSWORD='p$ss-${release}-${TAG}'`
const written = (release: string): string => `${envText(release).replace(/\r\n/g, '\n')}\n`
const secretLines = (release: string): string[] => [`base64:${release}-${TAG}`, `p$ss-${release}-${TAG}`]

let server: TestServer
let root: string

beforeAll(async () => {
  server = await startSshd()
  root = path.join(server.root, 'env-file')
})

afterAll(async () => {
  await server?.stop()
})

const mode = (file: string): number => fs.lstatSync(file).mode & 0o7777

/** Everything a run printed or wrote where a user or a later step could read it. */
const captured = (run: ActionRun): string[] => [run.stdout, run.stderr, JSON.stringify(run.outputs), JSON.stringify(run.state), run.summary]

/** Every file under a folder, with its content. */
function filesUnder(dir: string): Array<[string, string]> {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).flatMap((entry) => {
    const file = path.join(entry.parentPath, entry.name)
    return entry.isFile() ? [[file, fs.readFileSync(file, 'latin1')] as [string, string]] : []
  })
}

function deploy(release: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  return runAction({
    ...connectionInputs(server),
    path: root,
    'release-id': release,
    source: makeWorkspace({ 'index.html': release, 'app.css': 'the same in every release', '.env': 'PLACEHOLDER=committed\n' }),
    'env-file': envText(release),
    shared: 'storage/',
    ...extra
  })
}

describe('env-file', () => {
  it('is in the release with mode 600 before before-activate runs, and its text in no output, argv or cache', async () => {
    const beforeActivate = ['stat -c "%a %U" .env > before-activate.out', 'grep -c ^APP_KEY= .env >> before-activate.out', `sh -c 'sleep 2; :' ${VISIBLE}`].join('\n')
    const run = deploy('A', { 'before-activate': beforeActivate })
    const sampling = await sampleArgvWhile(run, `${TAG}`, VISIBLE)
    const result = await run
    expect(result.code, result.stderr).toBe(0)
    const file = path.join(root, 'releases', 'A', '.env')
    expect(fs.readFileSync(file, 'utf8')).toBe(written('A'))
    expect(mode(file).toString(8)).toBe('600')
    expect(fs.readFileSync(path.join(root, 'releases', 'A', 'before-activate.out'), 'utf8')).toBe(`600 ${server.username}\n1\n`)
    expect(fs.readdirSync(path.join(root, 'releases', 'A')).sort()).toEqual(['.env', 'REVISION', 'app.css', 'before-activate.out', 'index.html', 'storage'])
    expect(secretsShown(captured(result), secretLines('A'))).toEqual([])
    expect(sampling.visibleSeen, `control marker seen in ${sampling.visibleSeen} of ${sampling.samples} samples`).toBeGreaterThan(0)
    expect(sampling.secretSeen).toEqual([])
    expect(filesUnder(path.join(root, '.atomic-deploy')).filter(([, content]) => content.includes(TAG))).toEqual([])
  }, 120_000)

  it('replaces the file a hard-linked release shares with the upload cache, never writing through it', async () => {
    const result = await deploy('B', { 'hardlink-releases': 'true' })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout + result.stderr).toContain('changes received; building the release from the cache')
    const release = path.join(root, 'releases', 'B')
    // The release really is hard-linked to the cache: a file unchanged since A is one inode in both.
    expect(fs.statSync(path.join(release, 'app.css')).ino).toBe(fs.statSync(path.join(root, '.atomic-deploy', 'cache', 'app.css')).ino)
    expect(fs.readFileSync(path.join(release, '.env'), 'utf8')).toBe(written('B'))
    expect(mode(path.join(release, '.env')).toString(8)).toBe('600')
    expect(fs.readFileSync(path.join(root, '.atomic-deploy', 'cache', '.env'), 'utf8')).toBe('PLACEHOLDER=committed\n')
    expect(fs.readFileSync(path.join(root, 'releases', 'A', '.env'), 'utf8')).toBe(written('A'))
    expect(secretsShown(captured(result), secretLines('B'))).toEqual([])
  }, 60_000)

  it('a failed deploy leaves the live file untouched', async () => {
    const result = await deploy('C', { 'before-activate': 'exit 3' })
    expect(result.code).not.toBe(0)
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/B')
    expect(fs.readFileSync(path.join(root, 'current', '.env'), 'utf8')).toBe(written('B'))
    expect(fs.existsSync(path.join(root, 'releases', 'C'))).toBe(false)
    expect(secretsShown(captured(result), secretLines('C'))).toEqual([])
  }, 60_000)

  it('a rollback brings back the file of the release rolled back to', async () => {
    const result = await runAction({ ...connectionInputs(server), path: root, mode: 'rollback' })
    expect(result.code, result.stderr).toBe(0)
    expect(result.outputs['release-id']).toBe('A')
    expect(fs.readFileSync(path.join(root, 'current', '.env'), 'utf8')).toBe(written('A'))
    expect(mode(path.join(root, 'current', '.env')).toString(8)).toBe('600')
  }, 60_000)

  it('a link to shared/ where the file goes (shared-auto) fails before the switch, and the release is removed', async () => {
    fs.writeFileSync(path.join(root, 'shared', '.env'), 'SHARED=1\n')
    try {
      const result = await deploy('D', { 'shared-auto': 'true' })
      expect(result.code).not.toBe(0)
      expect(result.stderr + result.stdout).toContain('env-file-path .env is a symlink in the release')
      expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/A')
      expect(fs.existsSync(path.join(root, 'releases', 'D'))).toBe(false)
      expect(fs.readFileSync(path.join(root, 'shared', '.env'), 'utf8')).toBe('SHARED=1\n')
    } finally {
      fs.rmSync(path.join(root, 'shared', '.env'))
    }
  }, 60_000)

  it.each<[string, string, Record<string, string>, string]>([
    ['a file in the release on the way to it', 'index.html/.env', {}, 'env-file-path index.html/.env: its folder cannot be made in the release'],
    ['a read-only folder of the workspace', 'config/.env', { 'config/app.php': 'x' }, 'env-file-path config/.env: the folder config is read-only in the release'],
    ['a symlink from the workspace', '.env', { '.env.production': 'X=1\n' }, 'env-file-path .env is a symlink in the release, from the workspace: remove it from the workspace']
  ])(
    '%s fails before the switch with a message naming env-file-path, and the release is removed',
    async (_what, envPath, files, message) => {
      const source = makeWorkspace({ 'index.html': 'x', ...files })
      if (files['config/app.php']) fs.chmodSync(path.join(source, 'config'), 0o555)
      if (files['.env.production']) fs.symlinkSync('.env.production', path.join(source, '.env'))
      const result = await runAction({ ...connectionInputs(server), path: root, 'release-id': 'F', source, 'env-file': 'A=1', 'env-file-path': envPath })
      expect(result.code).not.toBe(0)
      expect(result.stdout + result.stderr).toContain(message)
      expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/A')
      expect(fs.existsSync(path.join(root, 'releases', 'F'))).toBe(false)
    },
    60_000
  )

  it('keeps mode 600 inside a writable folder (writable-mode chmod opens the folder, not the secret)', async () => {
    const source = makeWorkspace({ 'index.html': 'G', 'config/app.php': 'x' })
    const result = await runAction({
      ...connectionInputs(server),
      path: root,
      'release-id': 'G',
      source,
      'env-file': envText('G'),
      'env-file-path': 'config/.env',
      writable: 'config/',
      'writable-mode': 'chmod'
    })
    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(mode(path.join(root, 'releases', 'G', 'config', 'app.php')).toString(8)).toBe('666')
    expect(mode(path.join(root, 'releases', 'G', 'config', '.env')).toString(8)).toBe('600')
    expect(fs.readFileSync(path.join(root, 'releases', 'G', 'config', '.env'), 'utf8')).toBe(written('G'))
  }, 60_000)

  it("a dry run prints the prepare script with the text's size in its place", async () => {
    const result = await runAction({ ...connectionInputs(server), path: root, source: makeWorkspace({ 'index.html': 'x' }), 'env-file': envText('E'), 'dry-run': 'true' })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout + result.stderr).toContain(`ENV_FILE_TEXT='(the env-file text, ${Buffer.byteLength(written('E'))} bytes, is not shown)`)
    expect(secretsShown(captured(result), secretLines('E'))).toEqual([])
  }, 60_000)

  it('a path that is a shared entry is refused before connecting, and nothing on the server changes', async () => {
    const fresh = path.join(server.root, 'env-file-refused')
    const result = await runAction({ ...connectionInputs(server), path: fresh, source: makeWorkspace({ 'index.html': 'x' }), 'env-file': 'A=1', shared: '.env' })
    expect(result.code).not.toBe(0)
    expect(result.stdout + result.stderr).toContain(`Invalid input 'env-file-path': ".env" is also a shared entry`)
    expect(fs.existsSync(fresh)).toBe(false)
  }, 60_000)
})
