/**
 * The assembled scripts, run for real against temp folders under dash,
 * BusyBox sh (with BusyBox's own mv, tar, ln, awk...) and bash, fed by the
 * real archive packer. (ShellCheck reads the sources themselves, in
 * scripts/test.sh.)
 */
import { execFileSync, spawnSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { beforeAll, describe, expect, it } from 'vitest'
import { testDeployPlan } from '../support/deploy-plan'
import { DeployPlan, WireCompression } from '../../src/remote/plan'
import {
  abortScript,
  afterActivateScript,
  finishScript,
  listScript,
  markBadScript,
  prepareScript,
  revertScript,
  rollbackScript,
  switchAndFinishScript,
  switchScript,
  unlockScript
} from '../../src/remote/scripts'
import { expectedFindLines, listSource } from '../../src/upload/file-list'
import { packArchive } from '../../src/upload/archive'
import { EXIT } from '../../src/remote/exit-codes'
import { parseLogLines } from '../support/json'

const DEAD_PID = 2 ** 30 // above any pid_max
const NOW = Math.floor(Date.now() / 1000)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-script-'))
const busyboxBin = path.join(tmp, 'busybox-bin')

beforeAll(() => {
  fs.mkdirSync(busyboxBin)
  execFileSync('busybox', ['--install', '-s', busyboxBin])
})

interface Shell {
  name: string
  command: string[]
  path: string
}
const SHELLS: Shell[] = [
  { name: 'dash', command: ['dash', '-c'], path: process.env.PATH! },
  { name: 'busybox', command: ['busybox', 'sh', '-c'], path: `${busyboxBin}:${process.env.PATH}` },
  { name: 'bash', command: ['bash', '-c'], path: process.env.PATH! }
]

function plan(deployPath: string, overrides: Partial<DeployPlan> = {}): DeployPlan {
  return testDeployPlan(deployPath, {
    keep: 2,
    shared: [
      { path: 'storage', isDirectory: true },
      { path: 'config/.env', isDirectory: false }
    ],
    logFields: '"actor":"o\'ct\\"o"',
    ...overrides
  })
}

function workspace(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'ws-'))
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), content)
  }
  return dir
}

async function archiveOf(dir: string, compression: WireCompression): Promise<{ data: Buffer; entries: number }> {
  const listing = await listSource(dir, [])
  const archive = await packArchive(dir, listing.entries, compression)
  const chunks: Buffer[] = []
  for await (const chunk of archive.stream) chunks.push(chunk as Buffer)
  await archive.finished
  return { data: Buffer.concat(chunks), entries: expectedFindLines(listing.entries) }
}

function run(shell: Shell, script: string, input?: Buffer) {
  const result = spawnSync(shell.command[0], [...shell.command.slice(1), script], {
    input: input ?? Buffer.alloc(0),
    env: { PATH: shell.path, HOME: tmp },
    cwd: tmp
  })
  const stdout = result.stdout.toString()
  return { code: result.status, stdout, stderr: result.stderr.toString(), results: stdout.split('\n').filter((l) => l.startsWith('@@')) }
}

async function deployWith(shell: Shell, p: DeployPlan, files: Record<string, string>, compression: WireCompression = 'none') {
  const { data, entries } = await archiveOf(workspace(files), compression)
  const full = { ...p, expectedEntries: entries, compression }
  const prepared = run(shell, prepareScript(full), data)
  if (prepared.code !== 0) return { prepared, activated: undefined }
  // Switch, after-activate and finish, as the deploy flow runs them; their result lines together.
  const steps = [switchScript(full), afterActivateScript(full), finishScript(full)].map((script) => run(shell, script))
  const failed = steps.find((step) => step.code !== 0)
  return {
    prepared,
    activated: { code: failed?.code ?? 0, stderr: steps.map((s) => s.stderr).join(''), results: steps.flatMap((s) => s.results) }
  }
}

describe.each(SHELLS)('assembled scripts run under $name', (shell) => {
  it('deploys, links shared paths, switches and prunes by the log', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-deploy-`))
    fs.mkdirSync(path.join(root, 'shared/config'), { recursive: true })
    fs.writeFileSync(path.join(root, 'shared/config/.env'), 'SECRET=kept')
    const files = { 'index.html': 'one', 'storage/logs/seed.log': 'seed', 'config/.env': 'from repo', '-dash-file': 'x' }
    for (const [id, compression] of [
      ['r1', 'none'],
      ['r2', 'gzip'],
      ['r3', 'zstd']
    ] as const) {
      const { prepared, activated } = await deployWith(shell, plan(root, { releaseId: id }), { ...files, 'index.html': id }, compression)
      expect(prepared.code, prepared.stderr).toBe(0)
      expect(activated!.code, activated!.stderr).toBe(0)
      expect(activated!.results).toContain(`@@current ${id}`)
    }
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/r3')
    expect(fs.readFileSync(path.join(root, 'current/index.html'), 'utf8')).toBe('r3')
    expect(fs.readFileSync(path.join(root, 'current/config/.env'), 'utf8')).toBe('SECRET=kept')
    expect(fs.readFileSync(path.join(root, 'current/storage/logs/seed.log'), 'utf8')).toBe('seed')
    expect(fs.readFileSync(path.join(root, 'current/-dash-file'), 'utf8')).toBe('x')
    expect(fs.readdirSync(path.join(root, 'releases')).sort()).toEqual(['r2', 'r3'])
    const log = parseLogLines(fs.readFileSync(path.join(root, '.atomic-deploy/releases.log'), 'utf8'))
    expect(log.filter((e) => e.event === 'deployed').map((e) => e.id)).toEqual(['r1', 'r2', 'r3'])
    expect(log[0].actor).toBe('o\'ct"o')
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(false)
  })

  it('keeps values inert: quotes, $(...) and backticks in paths and hooks run nothing', async () => {
    const base = fs.mkdtempSync(path.join(tmp, `${shell.name}-hostile-`))
    const root = path.join(base, 'it\'s "odd" $(touch canary1) `touch canary2`; touch canary3')
    const p = plan(root, {
      shared: [],
      beforeActivate: 'printf "%s\\n" "$RELEASE_PATH" > where.txt',
      releaseId: 'r1'
    })
    const { prepared, activated } = await deployWith(shell, p, { a: '1' })
    expect(prepared.code, prepared.stderr).toBe(0)
    expect(activated!.code, activated!.stderr).toBe(0)
    expect(fs.readFileSync(path.join(root, 'current/where.txt'), 'utf8').trim()).toBe(`${root}/releases/r1`)
    expect(fs.readdirSync(base)).toEqual([path.basename(root)])
    for (const canary of ['canary1', 'canary2', 'canary3']) {
      expect(fs.existsSync(path.join(tmp, canary))).toBe(false)
      expect(fs.existsSync(path.join(root, canary))).toBe(false)
    }
  })

  it('a failing before-activate removes the release, logs it failed and frees the lock', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-before-`))
    const ok = await deployWith(shell, plan(root, { shared: [], releaseId: 'r1' }), { a: '1' })
    expect(ok.activated!.code).toBe(0)
    const bad = await deployWith(shell, plan(root, { shared: [], releaseId: 'r2', beforeActivate: 'false\ntrue' }), { a: '2' })
    expect(bad.prepared.code).toBe(EXIT.beforeActivate)
    expect(bad.prepared.results).toContain('@@error before-activate failed (exit status 1)')
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/r1')
    expect(fs.readdirSync(path.join(root, 'releases'))).toEqual(['r1'])
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(false)
  })

  it('refuses to work while another run holds the lock, and names the holder', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-lock-`))
    fs.mkdirSync(path.join(root, '.atomic-deploy/lock'), { recursive: true })
    const owner = `{"pid":${process.pid},"sshd":0,"epoch":1,"token":"other","actor":"alice"}\n`
    fs.writeFileSync(path.join(root, '.atomic-deploy/lock/owner'), owner)
    const { prepared } = await deployWith(shell, plan(root, { shared: [] }), { a: '1' })
    expect(prepared.code).toBe(EXIT.locked)
    expect(prepared.stderr).toContain('"actor":"alice"')
    expect(fs.readFileSync(path.join(root, '.atomic-deploy/lock/owner'), 'utf8')).toBe(owner)
  })

  it.each([
    ['its process and its SSH connection are gone', `"pid":${DEAD_PID},"sshd":${DEAD_PID},"epoch":${NOW}`],
    ['its process is gone and it is older than two hours', `"pid":${DEAD_PID},"sshd":0,"epoch":${NOW - 7201}`]
  ])('takes over a stale lock when %s', async (_why, fields) => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-stale-`))
    fs.mkdirSync(path.join(root, '.atomic-deploy/lock'), { recursive: true })
    fs.writeFileSync(path.join(root, '.atomic-deploy/lock/owner'), `{${fields},"token":"dead-run"}\n`)
    const { prepared, activated } = await deployWith(shell, plan(root, { shared: [] }), { a: '1' })
    expect(prepared.code, prepared.stderr).toBe(0)
    expect(prepared.stderr).toContain('the lock was stale')
    expect(prepared.stderr).toContain('dead-run')
    expect(activated!.code).toBe(0)
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(false)
  })

  it.each([
    ['its SSH connection is alive', `"pid":${DEAD_PID},"sshd":${process.pid},"epoch":${NOW - 99999}`],
    ['it is young and its connection cannot be told', `"pid":${DEAD_PID},"sshd":0,"epoch":${NOW}`]
  ])('keeps a lock when %s', async (_why, fields) => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-live-`))
    fs.mkdirSync(path.join(root, '.atomic-deploy/lock'), { recursive: true })
    fs.writeFileSync(path.join(root, '.atomic-deploy/lock/owner'), `{${fields},"token":"live-run"}\n`)
    const { prepared } = await deployWith(shell, plan(root, { shared: [] }), { a: '1' })
    expect(prepared.code).toBe(EXIT.locked)
  })

  it('refuses a current that is a real folder and changes nothing', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-realdir-`))
    fs.mkdirSync(path.join(root, 'current'))
    fs.writeFileSync(path.join(root, 'current/index.html'), 'old site')
    const { prepared } = await deployWith(shell, plan(root, { shared: [] }), { a: '1' })
    expect(prepared.code).toBe(EXIT.currentNotLink)
    expect(fs.readFileSync(path.join(root, 'current/index.html'), 'utf8')).toBe('old site')
    expect(fs.readdirSync(path.join(root, 'releases'))).toEqual([])
  })

  it('a truncated upload fails and leaves no staging tree', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-truncated-`))
    const { data, entries } = await archiveOf(workspace({ big: 'x'.repeat(200_000), small: 'y' }), 'none')
    const prepared = run(shell, prepareScript({ ...plan(root, { shared: [] }), expectedEntries: entries }), data.subarray(0, 100_000))
    expect(prepared.code).toBe(EXIT.upload)
    expect(fs.readdirSync(path.join(root, '.atomic-deploy/staging'))).toEqual([])
    expect(fs.readdirSync(path.join(root, 'releases'))).toEqual([])
    expect(fs.existsSync(path.join(root, 'current'))).toBe(false)
  })

  it('a shared entry under a symlinked folder of the release is refused', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-symlink-parent-`))
    const outside = fs.mkdtempSync(path.join(tmp, 'outside-'))
    fs.writeFileSync(path.join(outside, 'precious'), 'keep me')
    const ws = workspace({ a: '1' })
    fs.symlinkSync(outside, path.join(ws, 'storage'))
    const { data, entries } = await archiveOf(ws, 'none')
    const p = { ...plan(root, { shared: [{ path: 'storage/precious', isDirectory: false }] }), expectedEntries: entries }
    const prepared = run(shell, prepareScript(p), data)
    expect(prepared.code).toBe(EXIT.shared)
    expect(fs.readFileSync(path.join(outside, 'precious'), 'utf8')).toBe('keep me')
  })

  it('after-activate failure keeps the lock; revert switches back, marks the release bad and frees the lock', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-revert-`))
    expect((await deployWith(shell, plan(root, { shared: [], releaseId: 'r1' }), { a: '1' })).activated!.code).toBe(0)
    const p2 = plan(root, { shared: [], releaseId: 'r2', afterActivate: 'echo reloading; exit 4', expectedEntries: 1 })
    const { data } = await archiveOf(workspace({ a: '2' }), 'none')
    expect(run(shell, prepareScript(p2), data).code).toBe(0)
    expect(run(shell, switchScript(p2)).results).toContain('@@current r2')
    const after = run(shell, afterActivateScript(p2))
    expect(after.code).toBe(EXIT.afterActivate)
    expect(after.stderr).toContain('reloading')
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(true)
    expect(run(shell, revertScript(p2, 'r1')).results).toContain('@@current r1')
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/r1')
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(false)
    const events = parseLogLines(fs.readFileSync(path.join(root, '.atomic-deploy/releases.log'), 'utf8')).map((l) => `${l.event}:${l.id}`)
    expect(events.slice(-3)).toEqual(['prepared:r2', 'deployed:r2', 'reverted:r2'])
  })

  it('with revert-on-failure off, mark-bad keeps the new release current but bad; finish frees the lock', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-mark-bad-`))
    expect((await deployWith(shell, plan(root, { shared: [], releaseId: 'r1' }), { a: '1' })).activated!.code).toBe(0)
    const p2 = plan(root, { shared: [], releaseId: 'r2', afterActivate: 'exit 3', expectedEntries: 1 })
    const { data } = await archiveOf(workspace({ a: '2' }), 'none')
    expect(run(shell, prepareScript(p2), data).code).toBe(0)
    expect(run(shell, switchScript(p2)).code).toBe(0)
    expect(run(shell, afterActivateScript(p2)).code).toBe(EXIT.afterActivate)
    const marked = run(shell, markBadScript(p2))
    expect(marked.code, marked.stderr).toBe(0)
    expect(marked.results).toContain('@@finished mark-bad')
    expect(run(shell, finishScript(p2)).code).toBe(0)
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/r2')
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(false)
    const listed = run(shell, listScript({ ...p2, newReleaseId: '' }))
    expect(listed.results).toContain('@@rollback-target r1')
  })

  it('a hook past command-timeout is stopped with every process it started', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-timeout-`))
    const marker = path.join(root, 'still-running')
    const pidFile = path.join(root, 'background.pid')
    const started = Date.now()
    const { prepared } = await deployWith(
      shell,
      plan(root, { shared: [], commandTimeoutSeconds: 1, beforeActivate: `(sleep 47; touch '${marker}') & echo $! >'${pidFile}'; sleep 48` }),
      { a: '1' }
    )
    expect(prepared.code).toBe(EXIT.beforeActivate)
    expect(prepared.stderr).toContain('ran longer than command-timeout (1 s)')
    // A hang guard (about 3 s is usual), far below the hook's own 48 s.
    expect(Date.now() - started).toBeLessThan(30_000)
    const background = Number(fs.readFileSync(pidFile, 'utf8').trim())
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0)
        return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
      } catch {
        return false
      }
    }
    for (let i = 0; i < 100 && alive(background); i++) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(alive(background), `the hook's background process ${background} still runs`).toBe(false)
    expect(fs.existsSync(marker)).toBe(false)
    expect(fs.readdirSync(path.join(root, 'releases'))).toEqual([])
  })

  it('shared-auto links every entry of shared/, descending into folders the release also has', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-auto-`))
    for (const [name, content] of Object.entries({ 'storage/app/uploads/photo.jpg': 'p', '.env': 'E=1', 'storage/logs/a.log': 'l', 'cache/x': 'c' })) {
      fs.mkdirSync(path.dirname(path.join(root, 'shared', name)), { recursive: true })
      fs.writeFileSync(path.join(root, 'shared', name), content)
    }
    const { activated } = await deployWith(shell, plan(root, { shared: [], sharedAuto: true }), {
      'storage/app/keep.txt': 'k',
      'storage/framework/views.txt': 'v',
      '.env': 'from repo',
      'index.php': '1'
    })
    expect(activated!.code, activated!.stderr).toBe(0)
    const release = path.join(root, 'releases/r1')
    expect(fs.readlinkSync(path.join(release, '.env'))).toBe('../../shared/.env')
    expect(fs.readlinkSync(path.join(release, 'cache'))).toBe('../../shared/cache')
    expect(fs.lstatSync(path.join(release, 'storage')).isDirectory()).toBe(true)
    expect(fs.lstatSync(path.join(release, 'storage/app')).isDirectory()).toBe(true)
    expect(fs.readlinkSync(path.join(release, 'storage/app/uploads'))).toBe('../../../../shared/storage/app/uploads')
    expect(fs.readlinkSync(path.join(release, 'storage/logs'))).toBe('../../../shared/storage/logs')
    expect(fs.readFileSync(path.join(release, 'storage/app/keep.txt'), 'utf8')).toBe('k')
    expect(fs.readFileSync(path.join(root, 'current/storage/app/uploads/photo.jpg'), 'utf8')).toBe('p')
    expect(fs.readFileSync(path.join(root, 'current/.env'), 'utf8')).toBe('E=1')
  })

  it('pruning keeps the release a rollback made current, and a refused id does not mark the live release failed', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-prune-order-`))
    for (const id of ['R1', 'R2', 'R3', 'R4']) {
      expect((await deployWith(shell, plan(root, { shared: [], releaseId: id, keep: 5 }), { v: id })).activated!.code).toBe(0)
    }
    expect(run(shell, rollbackScript({ ...plan(root, { shared: [], releaseId: 'R1' }), mode: 'rollback' })).code).toBe(0)
    // Deploying R4's id again is refused, and must not mark R4 failed.
    const again = await deployWith(shell, plan(root, { shared: [], releaseId: 'R4', keep: 2 }), { v: 'again' })
    expect(again.prepared.code).toBe(EXIT.releaseExists)
    const { activated } = await deployWith(shell, plan(root, { shared: [], releaseId: 'R5', keep: 2 }), { v: 'R5' })
    expect(activated!.code).toBe(0)
    // R1 was current before R5, so with keep 2 it is the one kept.
    expect(fs.readdirSync(path.join(root, 'releases')).sort()).toEqual(['R1', 'R5'])
    const log = fs.readFileSync(path.join(root, '.atomic-deploy/releases.log'), 'utf8')
    expect(log).not.toContain('"event":"failed","id":"R4"')
  })

  it('trims a long releases log, but never the entries of releases still on disk', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-trim-`))
    expect((await deployWith(shell, plan(root, { shared: [], releaseId: 'kept-1', keep: 5 }), { v: '1' })).activated!.code).toBe(0)
    const log = path.join(root, '.atomic-deploy/releases.log')
    const filler = Array.from({ length: 1200 }, (_, i) => `{"event":"deployed","id":"gone-${i}","time":"t"}`).join('\n')
    fs.appendFileSync(log, `${filler}\n`)
    expect((await deployWith(shell, plan(root, { shared: [], releaseId: 'kept-2', keep: 5 }), { v: '2' })).activated!.code).toBe(0)
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n')
    expect(lines.length).toBeLessThanOrEqual(510)
    expect(lines.some((l) => l.includes('"id":"kept-1"'))).toBe(true)
    expect(lines.some((l) => l.includes('"id":"kept-2"'))).toBe(true)
    expect(lines.some((l) => l.includes('"id":"gone-0"'))).toBe(false)
  })

  it('switch-and-finish that fails after the rename keeps the lock and says it switched, so the runner can revert', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-switch-finish-`))
    expect((await deployWith(shell, plan(root, { shared: [], releaseId: 'r1' }), { a: '1' })).activated!.code).toBe(0)
    const p2 = plan(root, { shared: [], releaseId: 'r2', expectedEntries: 1 })
    const { data } = await archiveOf(workspace({ a: '2' }), 'none')
    expect(run(shell, prepareScript(p2), data).code).toBe(0)
    // A log that cannot be written (a folder in its place) makes the step fail after the switch.
    const log = path.join(root, '.atomic-deploy/releases.log')
    fs.renameSync(log, `${log}.saved`)
    fs.mkdirSync(log)
    const step = run(shell, switchAndFinishScript(p2))
    expect(step.code).not.toBe(0)
    expect(step.results).toContain('@@switched r2')
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(true)
    fs.rmdirSync(log)
    fs.renameSync(`${log}.saved`, log)
    expect(run(shell, revertScript(p2, 'r1')).code).toBe(0)
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/r1')
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(false)
  })

  it('switch-and-finish, finish and rollback told LIST_RELEASES=1 end with the release list the list script prints, so no list script need follow', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-listed-`))
    const listLines = (results: string[]): string[] => results.filter((l) => /^@@(current|release|log) /.test(l))
    const listNow = (): string[] => listLines(run(shell, listScript({ ...plan(root, { shared: [] }), newReleaseId: '' })).results)
    expect((await deployWith(shell, plan(root, { shared: [], releaseId: 'r1' }), { a: '1' })).activated!.code).toBe(0)
    const p2 = plan(root, { shared: [], releaseId: 'r2', expectedEntries: 1, listReleases: true })
    expect(run(shell, prepareScript(p2), (await archiveOf(workspace({ a: '2' }), 'none')).data).code).toBe(0)
    const switched = run(shell, switchAndFinishScript(p2))
    expect(switched.code, switched.stderr).toBe(0)
    expect(switched.results).toContain('@@listed 1')
    // Its last @@current and its release and log lines, after the ones of the switch itself, are the list script's.
    const tail = switched.results.slice(switched.results.lastIndexOf('@@current r2'))
    expect(listLines(tail)).toEqual(listNow())
    expect(listNow()).toContain('@@release r2')

    const p3 = plan(root, { shared: [], releaseId: 'r3', expectedEntries: 1, listReleases: true })
    expect(run(shell, prepareScript(p3), (await archiveOf(workspace({ a: '3' }), 'none')).data).code).toBe(0)
    expect(run(shell, switchScript(p3)).code).toBe(0)
    const finished = run(shell, finishScript(p3))
    expect(finished.code, finished.stderr).toBe(0)
    expect(finished.results).toContain('@@listed 1')
    expect(listLines(finished.results)).toEqual(listNow())
    // Without LIST_RELEASES=1 (every host but the first), no list.
    expect(listLines(run(shell, finishScript({ ...p3, listReleases: false })).results)).toEqual([])

    const rolled = run(shell, rollbackScript({ ...plan(root, { shared: [], releaseId: '' }), mode: 'rollback', listReleases: true }))
    expect(rolled.code, rolled.stderr).toBe(0)
    expect(rolled.results).toContain('@@listed 1')
    expect(listLines(rolled.results.slice(rolled.results.indexOf('@@listed 1') - listNow().length))).toEqual(listNow())
  })

  it('a release list that fails at the end of a phase does not fail the phase, and has no @@listed line (the runner then sends the list script)', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-list-fails-`))
    expect((await deployWith(shell, plan(root, { shared: [], releaseId: 'r1' }), { a: '1' })).activated!.code).toBe(0)
    const p2 = plan(root, { shared: [], releaseId: 'r2', expectedEntries: 1, listReleases: true })
    expect(run(shell, prepareScript(p2), (await archiveOf(workspace({ a: '2' }), 'none')).data).code).toBe(0)
    // A list that fails halfway (after its release lines), as a read error would.
    const releaseLines = '  for id in $(release_dirs); do result release "$id"; done\n'
    const script = switchAndFinishScript(p2)
    expect(script).toContain(releaseLines)
    const step = run(shell, script.replace(releaseLines, `${releaseLines}  false\n`))
    expect(step.code, step.stderr).toBe(0)
    expect(step.results).toContain('@@release r2')
    expect(step.results).not.toContain('@@listed 1')
    expect(step.results.slice(-1)).toEqual(['@@finished switch-and-finish'])
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/r2')
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(false)
  })

  it('abort removes a prepared release and frees only its own lock', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-abort-`))
    const p = plan(root, { shared: [] })
    const { data, entries } = await archiveOf(workspace({ a: '1' }), 'none')
    expect(run(shell, prepareScript({ ...p, expectedEntries: entries }), data).code).toBe(0)
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(true)
    const other = run(shell, abortScript({ ...p, lockToken: 'someone-else' }))
    expect(other.code).toBe(0)
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(true)
    expect(run(shell, abortScript(p)).code).toBe(0)
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(false)
    expect(fs.readdirSync(path.join(root, 'releases'))).toEqual([])
  })

  it('rolls back by the log: previous good release, further back, then by id', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-rollback-`))
    for (const id of ['A', 'B', 'C']) {
      const { activated } = await deployWith(shell, plan(root, { shared: [], releaseId: id, keep: 5 }), { v: id })
      expect(activated!.code).toBe(0)
    }
    const rollback = (releaseId = '') => run(shell, rollbackScript({ ...plan(root, { shared: [], releaseId }), mode: 'rollback' }))
    expect(rollback().results).toContain('@@current B')
    const second = rollback()
    expect(second.results, second.stderr).toContain('@@current A')
    const none = rollback()
    expect(none.code).toBe(EXIT.noRollbackTarget)
    expect(rollback('C').results).toContain('@@current C')
    // A release that was only prepared (its deploy died before the switch) is no rollback target.
    fs.mkdirSync(path.join(root, 'releases/half'))
    fs.appendFileSync(path.join(root, '.atomic-deploy/releases.log'), '{"event":"prepared","id":"half","time":"t"}\n')
    const half = rollback('half')
    expect(half.code).toBe(EXIT.unknownRelease)
    expect(half.stderr).toContain('was never switched to')
    fs.rmdirSync(path.join(root, 'releases/half'))
    expect(rollback('nope').code).toBe(EXIT.unknownRelease)
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/C')
    const listed = run(shell, listScript({ ...plan(root), newReleaseId: '' }))
    expect(listed.results.filter((l) => l.startsWith('@@release ')).sort()).toEqual(['@@release A', '@@release B', '@@release C'])
    expect(listed.results.filter((l) => l.startsWith('@@log ')).length).toBe(13)
    fs.mkdirSync(path.join(root, '.atomic-deploy/lock'))
    expect(run(shell, unlockScript(plan(root))).results).toContain('@@unlocked unknown (the lock has no owner file)')
    expect(fs.existsSync(path.join(root, '.atomic-deploy/lock'))).toBe(false)
  })
})
