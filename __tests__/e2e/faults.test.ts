/**
 * Faults, one a test, against a real sshd through the committed bundle: a
 * dropped SSH connection, a killed runner, a full disk, a hanging hook, a
 * failing after-activate, leftovers of a dead deploy, a `current` that is a
 * real folder, and servers that cannot be reached. After each fault `current`
 * points to a complete release, `shared/` is byte for byte what it was, and
 * the next ordinary deploy succeeds.
 */
import { execFileSync } from 'child_process'
import { randomBytes } from 'crypto'
import * as fs from 'fs'
import * as net from 'net'
import * as os from 'os'
import * as path from 'path'
import { treeSnapshot } from '../support/tree'
import { keyBodyLines, secretsShown } from '../support/secrets'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEPLOY_USER_PASSWORD, TestServer, freePort, startSshd } from './sshd-harness'
import { ActionRun, RunOptions, connectionInputs, makeWorkspace, runAction } from './run-action'

type Expect = typeof expect

let server: TestServer
let deployUid = 0
let deployGid = 0
/** A big workspace of random (incompressible) data, for faults that must strike mid-upload. */
let bigWorkspace = ''
const BIG_FILES = 3
const BIG_FILE_BYTES = 20 * 1024 * 1024
/** The test key, encrypted with a passphrase (same key pair, so the server accepts it). */
let encryptedKey = ''
const PASSPHRASE = 'faults passphrase "with" $pecial chars 7'
/** Where the disk-full test mounts its small tmpfs; unmounted in afterAll. */
let mountedTmpfs: string | undefined
/** Everything any run printed or wrote (stdout, stderr, summary, outputs, state), for the secrets check. */
const captured: string[] = []
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-faults-'))

beforeAll(async () => {
  server = await startSshd()
  deployUid = fs.statSync(server.root).uid
  deployGid = fs.statSync(server.root).gid
  const big: Record<string, string> = { 'index.html': 'release big' }
  bigWorkspace = makeWorkspace(big)
  for (let i = 0; i < BIG_FILES; i++) fs.writeFileSync(path.join(bigWorkspace, `blob-${i}.bin`), randomBytes(BIG_FILE_BYTES))
  const keyFile = path.join(scratch, 'encrypted_key')
  fs.writeFileSync(keyFile, server.userKey, { mode: 0o600 })
  execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', PASSPHRASE, '-f', keyFile], { stdio: 'ignore' })
  encryptedKey = fs.readFileSync(keyFile, 'utf8')
})

afterAll(async () => {
  if (mountedTmpfs) {
    try {
      execFileSync('umount', [mountedTmpfs], { stdio: 'pipe' })
    } catch {
      execFileSync('umount', ['-l', mountedTmpfs], { stdio: 'pipe' })
    }
  }
  await server?.stop()
  fs.rmSync(scratch, { recursive: true, force: true })
  if (bigWorkspace) fs.rmSync(bigWorkspace, { recursive: true, force: true })
})

// ---- runs -----------------------------------------------------------------

function remember(run: ActionRun): ActionRun {
  captured.push(run.stdout, run.stderr, run.summary, JSON.stringify(run.outputs), JSON.stringify(run.state))
  return run
}

/** What the step log shows: stdout and stderr, without the ::add-mask:: lines the runner swallows. */
const logOf = (run: ActionRun): string => `${run.stdout}\n${run.stderr}`.replace(/^::add-mask::.*\n?/gm, '')

async function act(inputs: Record<string, string>, options: RunOptions = {}): Promise<ActionRun> {
  return remember(await runAction(inputs, options))
}

/** runAction, with a hook on the output as it comes. */
async function actWatching(inputs: Record<string, string>, onOutput: (soFar: string) => void, timeoutMs = 60_000): Promise<ActionRun> {
  return remember(await runAction(inputs, { onOutput, timeoutMs }))
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const SHARED = 'storage/'
const workspaceFor = (id: string) => makeWorkspace({ 'index.html': `release ${id}`, 'storage/seed.txt': 'seeded from the first release' })

// ---- the server's state -----------------------------------------------------

const snapshot = (root: string): string[] => treeSnapshot(root, { owners: true })

function chownTree(target: string): void {
  fs.chownSync(target, deployUid, deployGid)
  if (fs.lstatSync(target).isDirectory()) for (const name of fs.readdirSync(target)) chownTree(path.join(target, name))
}

const currentOf = (root: string): string => fs.readlinkSync(path.join(root, 'current'))
const lockOf = (root: string): string => path.join(root, '.atomic-deploy/lock')
const stagingOf = (root: string): string => path.join(root, '.atomic-deploy/staging')
const releasesOf = (root: string): string[] => fs.readdirSync(path.join(root, 'releases')).sort()
const stagingLeft = (root: string): string[] => (fs.existsSync(stagingOf(root)) ? fs.readdirSync(stagingOf(root)) : [])

/**
 * A first, good release, with shared/storage seeded from it and then written
 * to as an application would (as the deploy user); returns shared/'s snapshot.
 */
async function deployBase(e: Expect, root: string, id = 'base', extra: Record<string, string> = {}): Promise<string[]> {
  const run = await act({ ...connectionInputs(server), path: root, 'release-id': id, shared: SHARED, source: workspaceFor(id), ...extra })
  e(run.code, logOf(run)).toBe(0)
  const upload = path.join(root, 'shared/storage/uploads/photo.bin')
  fs.mkdirSync(path.dirname(upload), { recursive: true })
  fs.writeFileSync(upload, randomBytes(8192))
  fs.writeFileSync(path.join(root, 'shared/storage/app.log'), 'written by the application\n')
  chownTree(path.join(root, 'shared'))
  const before = snapshot(path.join(root, 'shared'))
  e(before.length).toBeGreaterThanOrEqual(4)
  return before
}

/** current points to `id`, a complete release that serves, and shared/ is what it was. */
function expectServing(e: Expect, root: string, id: string, sharedBefore: string[]): void {
  e(currentOf(root)).toBe(`releases/${id}`)
  e(fs.readFileSync(path.join(root, 'current/index.html'), 'utf8')).toBe(`release ${id}`)
  e(fs.readlinkSync(path.join(root, 'current/storage'))).toBe('../../shared/storage')
  e(fs.readFileSync(path.join(root, 'current/storage/app.log'), 'utf8')).toBe('written by the application\n')
  e(snapshot(path.join(root, 'shared'))).toEqual(sharedBefore)
}

/**
 * The deploy after a fault: an ordinary one succeeds (waiting a little for a
 * lock the faulted run's remote side may still be letting go of), nothing is
 * left of the faulted release, and shared/ is still what it was.
 */
async function expectNextDeploySucceeds(e: Expect, root: string, sharedBefore: string[], keptIds: string[], inputs: Record<string, string> = {}): Promise<ActionRun> {
  const id = 'next'
  const next = await act({ ...connectionInputs(server), path: root, 'release-id': id, shared: SHARED, source: workspaceFor(id), 'lock-timeout': '15', ...inputs })
  e(next.code, logOf(next)).toBe(0)
  e(next.outputs['release-id']).toBe(id)
  expectServing(e, root, id, sharedBefore)
  e(releasesOf(root)).toEqual([...keptIds, id].sort())
  e(stagingLeft(root)).toEqual([])
  e(fs.existsSync(lockOf(root))).toBe(false)
  return next
}

// ---- processes ------------------------------------------------------------

const readProc = (pid: number, file: string): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8')
  } catch {
    return ''
  }
}
const allPids = (): number[] => fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number)
const commOf = (pid: number): string => readProc(pid, 'comm').trim()
/** The folder a process works in (the server's tar is started inside the staging folder). */
const cwdOf = (pid: number): string => {
  try {
    return `${fs.readlinkSync(`/proc/${pid}/cwd`)}/`
  } catch {
    return ''
  }
}
const cmdlineOf = (pid: number): string => readProc(pid, 'cmdline').replace(/\0/g, ' ').trim()
function statFields(pid: number): string[] {
  const stat = readProc(pid, 'stat')
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : []
}
const parentOf = (pid: number): number => Number(statFields(pid)[1] ?? 0)
const uidOf = (pid: number): number => Number(/^Uid:\s+(\d+)/m.exec(readProc(pid, 'status'))?.[1] ?? -1)
/** Alive: in /proc and not a zombie. */
const isAlive = (pid: number): boolean => {
  const state = statFields(pid)[0]
  return state !== undefined && state !== 'Z'
}

/**
 * The per-connection sshd (running as the deploy user) of the session that
 * is unpacking an upload into `root`: the `tar` working in root's staging
 * folder, walked up to its first `sshd` ancestor owned by the deploy user.
 */
function uploadSessionSshd(root: string): number | undefined {
  const staging = `${stagingOf(root)}/`
  for (const pid of allPids()) {
    if (commOf(pid) !== 'tar' || !cwdOf(pid).startsWith(staging)) continue
    let p = pid
    for (let hops = 0; hops < 8 && p > 1; hops++) {
      p = parentOf(p)
      if (commOf(p) === 'sshd' && uidOf(p) === deployUid) return p
    }
  }
  return undefined
}

/** Bytes unpacked so far into root's staging folder. */
function stagedBytes(root: string): number {
  let total = 0
  const walk = (dir: string): void => {
    let names: string[] = []
    try {
      names = fs.readdirSync(dir)
    } catch {
      return
    }
    for (const name of names) {
      try {
        const stat = fs.lstatSync(path.join(dir, name))
        if (stat.isDirectory()) walk(path.join(dir, name))
        else total += stat.size
      } catch {
        // gone meanwhile
      }
    }
  }
  walk(stagingOf(root))
  return total
}

async function waitFor(what: string, condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (condition()) return
    await sleep(50)
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}

// ---- the faults ----------------------------------------------------------------

describe.concurrent('faults: the site keeps serving, shared/ is untouched, the next deploy works', () => {
  it('the SSH connection drops mid-upload (its sshd is killed)', async ({ expect: e }) => {
    const root = path.join(server.root, 'dropped')
    const sharedBefore = await deployBase(e, root)
    let killed: { pid: number; stagedBytes: number } | undefined
    let hunting = false
    const hunt = async (): Promise<void> => {
      const deadline = Date.now() + 10_000
      for (let i = 0; i < 20_000 && Date.now() < deadline && !killed; i++) {
        const pid = uploadSessionSshd(root)
        if (pid) {
          const bytes = stagedBytes(root)
          process.kill(pid, 'SIGKILL')
          killed = { pid, stagedBytes: bytes }
          return
        }
        await sleep(2)
      }
    }
    let hunted: Promise<void> = Promise.resolve()
    const run = await actWatching(
      { ...connectionInputs(server), path: root, 'release-id': 'dropped', shared: SHARED, source: bigWorkspace, compression: 'none' },
      (soFar) => {
        if (!hunting && soFar.includes('Receiving the upload')) {
          hunting = true
          hunted = hunt()
        }
      }
    )
    await hunted
    e(killed, 'the upload session sshd was found and killed').toBeDefined()
    // It really was mid-upload: part of the data had arrived, not all of it.
    e(killed!.stagedBytes).toBeLessThan(BIG_FILES * BIG_FILE_BYTES)
    e(run.code, logOf(run)).toBe(1)
    // A failure the step reports, naming the host and the step (soft: the state checks below still run).
    e.soft(logOf(run)).toMatch(/::error::.*(connection was lost|killed).*during step upload/)
    e.soft(logOf(run)).toContain(`::error::${server.username}@127.0.0.1:${server.port}`)
    e.soft(logOf(run), 'the step ends cleanly, not with a crash').not.toMatch(/Unhandled|throw er;/)
    e.soft(run.summary).toContain('deploy failed')
    // The remote side notices the dropped connection and cleans up by itself.
    await waitFor('the lock to be freed by the remote side', () => !fs.existsSync(lockOf(root)), 15_000)
    expectServing(e, root, 'base', sharedBefore)
    e(stagingLeft(root)).toEqual([])
    e(releasesOf(root)).toEqual(['base'])
    await expectNextDeploySucceeds(e, root, sharedBefore, ['base'])
  })

  it('the deploy process is killed (SIGKILL) mid-upload', async ({ expect: e }) => {
    const root = path.join(server.root, 'runner-killed-upload')
    const sharedBefore = await deployBase(e, root)
    const run = await act(
      { ...connectionInputs(server), path: root, 'release-id': 'killed', shared: SHARED, source: bigWorkspace, compression: 'none' },
      { killOn: { text: 'Receiving the upload', signal: 'SIGKILL' } }
    )
    const staged = stagedBytes(root)
    e(run.code).toBe(null)
    e(logOf(run)).not.toContain('Moving the complete upload')
    e(staged).toBeLessThan(BIG_FILES * BIG_FILE_BYTES)
    expectServing(e, root, 'base', sharedBefore)
    // The remote side cleans up after itself, or leaves a stale lock the next deploy takes over.
    await expectNextDeploySucceeds(e, root, sharedBefore, ['base'])
  })

  it('the deploy process is killed (SIGKILL) during before-activate', async ({ expect: e }) => {
    const root = path.join(server.root, 'runner-killed-hook')
    const sharedBefore = await deployBase(e, root)
    const run = await act(
      { ...connectionInputs(server), path: root, 'release-id': 'killed', shared: SHARED, source: workspaceFor('killed'), 'before-activate': 'sleep 5' },
      { killOn: { text: 'Running before-activate', signal: 'SIGKILL' } }
    )
    e(run.code).toBe(null)
    // The site never moved: the switch comes after before-activate.
    expectServing(e, root, 'base', sharedBefore)
    const next = await expectNextDeploySucceeds(e, root, sharedBefore, ['base'])
    e(next.outputs['previous-release-id']).toBe('base')
  })

  it("the server's disk fills up during extraction", async ({ expect: e }) => {
    if (process.getuid?.() !== 0) {
      throw new Error('This test mounts a 2 MiB tmpfs to fill the disk, which needs root. Run the end-to-end tests as root (npm test does, in CI).')
    }
    const mount = path.join(server.root, 'small-disk')
    fs.mkdirSync(mount)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0755', 'tmpfs', mount])
    mountedTmpfs = mount
    fs.chownSync(mount, deployUid, deployGid)
    const root = path.join(mount, 'app')
    const sharedBefore = await deployBase(e, root)
    const free = fs.statfsSync(mount).bavail * fs.statfsSync(mount).bsize
    const tooBig = makeWorkspace({ 'index.html': 'release too-big' })
    fs.writeFileSync(path.join(tooBig, 'a.bin'), randomBytes(free + 512 * 1024))
    const run = await act({ ...connectionInputs(server), path: root, 'release-id': 'too-big', shared: SHARED, source: tooBig, compression: 'none' })
    e(run.code).toBe(1)
    e(logOf(run)).toMatch(/::error::.*step upload/)
    e(logOf(run)).toMatch(/No space left on device|free disk space/)
    expectServing(e, root, 'base', sharedBefore)
    e(stagingLeft(root)).toEqual([])
    e(releasesOf(root)).toEqual(['base'])
    e(fs.existsSync(lockOf(root))).toBe(false)
    // The space is given back: the next (small) deploy fits.
    await expectNextDeploySucceeds(e, root, sharedBefore, ['base'])
  })

  it('a before-activate that hangs past command-timeout is stopped with every process it started', async ({ expect: e }) => {
    const root = path.join(server.root, 'hangs')
    const sharedBefore = await deployBase(e, root)
    const pids = path.join(server.root, 'hangs-pids')
    fs.mkdirSync(pids)
    fs.chownSync(pids, deployUid, deployGid)
    const hook = [`echo $$ > '${pids}/shell'`, `sleep 97 & echo $! > '${pids}/background'`, `sleep 98`, `touch '${pids}/finished'`].join('\n')
    const started = Date.now()
    const run = await act({
      ...connectionInputs(server),
      path: root,
      'release-id': 'hangs',
      shared: SHARED,
      source: workspaceFor('hangs'),
      'before-activate': hook,
      'command-timeout': '2'
    })
    const seconds = (Date.now() - started) / 1000
    e(run.code).toBe(1)
    e(logOf(run)).toContain('ran longer than command-timeout (2 s)')
    e(logOf(run)).toMatch(/::error::.*step before-activate/)
    // A hang guard (about 4 s is normal), well before the hook's own sleeps end.
    e(seconds).toBeLessThan(60)
    const hookPids = ['shell', 'background'].map((name) => Number(fs.readFileSync(path.join(pids, name), 'utf8').trim()))
    e(hookPids.every((pid) => pid > 1)).toBe(true)
    await waitFor('the hook processes to end', () => hookPids.every((pid) => !isAlive(pid)), 30_000).catch(() => undefined)
    for (const pid of hookPids) e(isAlive(pid), `hook process ${pid} (${cmdlineOf(pid)}) still runs`).toBe(false)
    const leftovers = allPids().filter((pid) => uidOf(pid) === deployUid && /^sleep 9[78]$/.test(cmdlineOf(pid)))
    e(leftovers.map(cmdlineOf)).toEqual([])
    e(fs.existsSync(path.join(pids, 'finished'))).toBe(false)
    expectServing(e, root, 'base', sharedBefore)
    e(releasesOf(root)).toEqual(['base'])
    e(fs.existsSync(lockOf(root))).toBe(false)
    await expectNextDeploySucceeds(e, root, sharedBefore, ['base'])
  }, 180_000)

  it('a failing after-activate switches back to the previous release', async ({ expect: e }) => {
    const root = path.join(server.root, 'after-fails')
    const keyLogin = { 'ssh-key': encryptedKey, 'ssh-key-passphrase': PASSPHRASE }
    const sharedBefore = await deployBase(e, root, 'base', keyLogin)
    const run = await act({
      ...connectionInputs(server),
      ...keyLogin,
      path: root,
      'release-id': 'broken',
      shared: SHARED,
      source: workspaceFor('broken'),
      'after-activate': 'echo "reloading for $RELEASE_ID"\nexit 3'
    })
    e(run.code).toBe(1)
    e(logOf(run)).toContain('reloading for broken')
    e(logOf(run)).toMatch(/::error::.*after-activate failed/)
    e(logOf(run)).toContain('switched back to base and marked broken bad')
    e(JSON.parse(run.outputs.results)[0]).toMatchObject({ status: 'reverted', releaseId: 'base' })
    expectServing(e, root, 'base', sharedBefore)
    e(fs.existsSync(lockOf(root))).toBe(false)
    // The bad release is not a kept slot: the next deploy prunes it.
    await expectNextDeploySucceeds(e, root, sharedBefore, ['base'], keyLogin)
  })

  it('a leftover staging tree and a stale lock: reported, taken over, removed', async ({ expect: e }) => {
    const root = path.join(server.root, 'leftovers')
    const sharedBefore = await deployBase(e, root)
    const leftover = path.join(stagingOf(root), 'old-id')
    fs.mkdirSync(path.join(leftover, 'public'), { recursive: true })
    fs.writeFileSync(path.join(leftover, 'public/index.html'), 'half uploaded')
    fs.writeFileSync(path.join(leftover, 'big.bin'), randomBytes(100_000))
    fs.mkdirSync(lockOf(root))
    const owner = '{"pid":1073741824,"sshd":1073741824,"epoch":1,"token":"x","release":"dead"}\n'
    fs.writeFileSync(path.join(lockOf(root), 'owner'), owner)
    chownTree(path.join(root, '.atomic-deploy'))
    const next = await expectNextDeploySucceeds(e, root, sharedBefore, ['base'], { 'lock-timeout': '0' })
    e(logOf(next)).toContain('the lock was stale')
    e(logOf(next)).toContain('"release":"dead"')
    e(logOf(next)).toContain(`removing a staging tree left by an earlier run: ${leftover}`)
    e(fs.existsSync(leftover)).toBe(false)
  })

  it('`current` is a real folder: refused, nothing touched', async ({ expect: e }) => {
    const root = path.join(server.root, 'real-current')
    const sharedBefore = await deployBase(e, root)
    // Someone replaced the link with a copy of the site.
    fs.unlinkSync(path.join(root, 'current'))
    fs.mkdirSync(path.join(root, 'current'))
    fs.writeFileSync(path.join(root, 'current/index.html'), 'hand-copied site')
    chownTree(path.join(root, 'current'))
    const before = snapshot(root)
    const run = await act({ ...connectionInputs(server), path: root, 'release-id': 'refused', shared: SHARED, source: workspaceFor('refused') })
    e(run.code).toBe(1)
    e(logOf(run)).toMatch(/::error::.*current is a real folder or file, not a symlink/)
    e(logOf(run)).toContain("mv current current.old")
    // Nothing changed but the releases log, which records the refused attempt.
    const withoutLog = (entries: string[]) => entries.filter((line) => !line.startsWith('.atomic-deploy/releases.log '))
    e(withoutLog(snapshot(root))).toEqual(withoutLog(before))
    e(fs.readFileSync(path.join(root, 'current/index.html'), 'utf8')).toBe('hand-copied site')
    e(releasesOf(root)).toEqual(['base'])
    // Moved aside as the message says, the next deploy manages current again.
    fs.renameSync(path.join(root, 'current'), path.join(root, 'current.old'))
    await expectNextDeploySucceeds(e, root, sharedBefore, ['base'])
    e(fs.readFileSync(path.join(root, 'current.old/index.html'), 'utf8')).toBe('hand-copied site')
  })

  it('a server that refuses or never answers fails within connect-timeout, naming host:port; retries back off', async ({ expect: e }) => {
    const root = path.join(server.root, 'unreachable')
    const sharedBefore = await deployBase(e, root)
    const refused = await freePort()
    const silentSockets = new Set<net.Socket>()
    const silent = net.createServer((socket) => {
      silentSockets.add(socket)
      socket.on('error', () => undefined)
    })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const silentPort = (silent.address() as net.AddressInfo).port
    // Password login here, so its secret is exercised on the failure paths too.
    const inputsFor = (port: number, retries: string) => ({
      host: `127.0.0.1:${port}`,
      username: server.username,
      password: DEPLOY_USER_PASSWORD,
      'host-fingerprint': server.fingerprint,
      path: root,
      'release-id': 'never',
      source: workspaceFor('never'),
      'connect-timeout': '3',
      retries
    })
    const timed = async (inputs: Record<string, string>): Promise<{ run: ActionRun; ms: number }> => {
      const started = Date.now()
      const run = await act(inputs)
      return { run, ms: Date.now() - started }
    }
    try {
      const [closed, mute, retried] = await Promise.all([timed(inputsFor(refused, '0')), timed(inputsFor(silentPort, '0')), timed(inputsFor(refused, '2'))])

      e(closed.run.code).toBe(1)
      e(logOf(closed.run)).toMatch(new RegExp(`::error::.*127\\.0\\.0\\.1:${refused}.*connection refused`))
      // Hang guards only (ten times what each takes); that no retry happened is the log's to say.
      e(closed.ms).toBeLessThan(30_000)
      e(logOf(closed.run)).not.toContain('Retrying')

      e(mute.run.code).toBe(1)
      e(logOf(mute.run)).toMatch(new RegExp(`::error::.*127\\.0\\.0\\.1:${silentPort}.*(no SSH answer within 3 s|connect-timeout)`))
      e(silentSockets.size).toBeGreaterThan(0)
      e(mute.ms).toBeGreaterThanOrEqual(2900)
      e(mute.ms).toBeLessThan(10 * (3000 + 1000))

      e(retried.run.code).toBe(1)
      e(logOf(retried.run)).toContain('Retrying in 1 s (attempt 2 of 3)')
      e(logOf(retried.run)).toContain('Retrying in 2 s (attempt 3 of 3)')
      e(logOf(retried.run)).not.toContain('attempt 4')
      e(logOf(retried.run)).toMatch(new RegExp(`::error::.*127\\.0\\.0\\.1:${refused}.*connection refused`))
      e(retried.ms).toBeGreaterThanOrEqual(2900)
      e(retried.ms).toBeLessThan(10 * (3000 + 1000))
    } finally {
      silentSockets.forEach((socket) => socket.destroy())
      await new Promise((resolve) => silent.close(resolve))
    }
    expectServing(e, root, 'base', sharedBefore)
    await expectNextDeploySucceeds(e, root, sharedBefore, ['base'], { 'ssh-key': '', password: DEPLOY_USER_PASSWORD })
  }, 180_000)
})

describe('secrets', () => {
  it('no key line, passphrase or password appears in anything any run printed or wrote', () => {
    expect(captured.length).toBeGreaterThan(30)
    const secrets = [...keyBodyLines(server.userKey), ...keyBodyLines(encryptedKey), PASSPHRASE, DEPLOY_USER_PASSWORD]
    expect(secrets.length).toBeGreaterThan(6)
    expect(secretsShown(captured, secrets)).toEqual([])
  })
})
