/**
 * The recover script (src/remote/sh/recover.sh), which the runner sends on a
 * new connection after one was lost, under dash, BusyBox sh and bash: it
 * reports the real current, whether this run's switch was logged, and the
 * lock: this run's lock is kept, a lock its lost script freed is taken
 * again, another run's lock is left alone; and what is left of this run's
 * script (its process group) is stopped first.
 */
import { spawn, spawnSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { testDeployPlan } from '../support/deploy-plan'
import { abortScript, prepareScript, recoverScript, switchScript } from '../../src/remote/scripts'
import { expectedFindLines, listSource } from '../../src/upload/file-list'
import { packArchive } from '../../src/upload/archive'
import { runShell, serverShells, Shell } from '../support/shells'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-recover-'))
const SHELLS = serverShells(tmp)
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

const planFor = (root: string, id: string, entries = 0) =>
  testDeployPlan(root, { releaseId: id, lockToken: `token-${id}`, lockOwner: `{"token":"token-${id}"}`, expectedEntries: entries })
const lockOf = (root: string): string => path.join(root, '.atomic-deploy/lock')
const value = (results: string[], key: string): string | undefined =>
  results
    .filter((l) => l.startsWith(`@@${key} `) || l === `@@${key}`)
    .map((l) => l.slice(key.length + 3))
    .pop()

async function prepared(shell: Shell, root: string, id: string): Promise<void> {
  const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
  fs.writeFileSync(path.join(ws, 'index.html'), id)
  const listing = await listSource(ws, [])
  const archive = await packArchive(ws, listing.entries, 'none')
  const chunks: Buffer[] = []
  for await (const chunk of archive.stream) chunks.push(chunk as Buffer)
  await archive.finished
  const run = runShell(shell, prepareScript(planFor(root, id, expectedFindLines(listing.entries))), { input: Buffer.concat(chunks), cwd: tmp })
  expect(run.code, run.stderr).toBe(0)
}

describe.each(SHELLS)('the recover script under $name', (shell) => {
  it('after a lost switch: reports the switch and current, keeps this run lock; an abort then frees it', async () => {
    const root = path.join(tmp, `${shell.name}-switched`)
    await prepared(shell, root, 'r1')
    expect(runShell(shell, switchScript(planFor(root, 'r1')), { cwd: tmp }).code).toBe(0)
    const run = runShell(shell, recoverScript(planFor(root, 'r1')), { cwd: tmp })
    expect(run.code, run.stderr).toBe(0)
    expect([value(run.results, 'lock'), value(run.results, 'switched'), value(run.results, 'current')]).toEqual(['held', 'r1', 'r1'])
    expect(fs.readFileSync(path.join(lockOf(root), 'owner'), 'utf8')).toContain('"token":"token-r1"')
    expect(runShell(shell, abortScript(planFor(root, 'r1')), { cwd: tmp }).code).toBe(0)
    expect(fs.existsSync(lockOf(root))).toBe(false)
  })

  it('takes the lock again when the lost script had freed it, and reports no switch before one', async () => {
    const root = path.join(tmp, `${shell.name}-freed`)
    await prepared(shell, root, 'r1')
    fs.rmSync(lockOf(root), { recursive: true })
    const run = runShell(shell, recoverScript(planFor(root, 'r1')), { cwd: tmp })
    expect(run.code, run.stderr).toBe(0)
    expect([value(run.results, 'lock'), value(run.results, 'switched'), value(run.results, 'current')]).toEqual(['held', undefined, ''])
    expect(fs.readFileSync(path.join(lockOf(root), 'owner'), 'utf8')).toContain('"token":"token-r1"')
  })

  it("leaves another run's lock alone and says so", async () => {
    const root = path.join(tmp, `${shell.name}-other`)
    await prepared(shell, root, 'r1')
    const owner = fs.readFileSync(path.join(lockOf(root), 'owner'), 'utf8')
    const run = runShell(shell, recoverScript(planFor(root, 'r2')), { cwd: tmp })
    expect(run.code, run.stderr).toBe(0)
    expect(value(run.results, 'lock')).toBe('other')
    expect(fs.readFileSync(path.join(lockOf(root), 'owner'), 'utf8')).toBe(owner)
  })

  it("stops what is left of this run's script: the process group the lock names", async () => {
    const root = path.join(tmp, `${shell.name}-leftover`)
    await prepared(shell, root, 'r1')
    // A stand-in for the lost script, still running in a group of its own, named by the owner file.
    const leftover = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' })
    const ownerFile = path.join(lockOf(root), 'owner')
    const owner = fs.readFileSync(ownerFile, 'utf8').replace(/"pid":\d+,"pgid":\d+/, `"pid":${leftover.pid},"pgid":${leftover.pid}`)
    fs.writeFileSync(ownerFile, owner)
    const exited = new Promise<string | null>((resolve) => leftover.on('exit', (_code, signal) => resolve(signal)))
    const run = runShell(shell, recoverScript(planFor(root, 'r1')), { cwd: tmp })
    expect(run.code, run.stderr).toBe(0)
    expect(value(run.results, 'lock')).toBe('held')
    expect(await exited).toBe('SIGTERM')
  })

  it("stops the lost script's hook even when the script itself is gone (killed)", async () => {
    const root = path.join(tmp, `${shell.name}-orphan-hook`)
    await prepared(shell, root, 'r1')
    // The script's group was killed (its pid is gone), but its hook, in a session of its own, lives on.
    const gone = spawnSync('true').pid
    const hook = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' })
    const ownerFile = path.join(lockOf(root), 'owner')
    fs.writeFileSync(ownerFile, fs.readFileSync(ownerFile, 'utf8').replace(/"pid":\d+,"pgid":\d+/, `"pid":${gone},"pgid":${gone}`))
    fs.writeFileSync(path.join(lockOf(root), 'hook'), `${hook.pid}\n`)
    const hookEnded = new Promise<string | null>((resolve) => hook.on('exit', (_code, signal) => resolve(signal)))
    const run = runShell(shell, recoverScript(planFor(root, 'r1')), { cwd: tmp })
    expect(run.code, run.stderr).toBe(0)
    expect(await hookEnded).toBe('SIGTERM')
  })

  it('takes the lock back when the script it stops frees it on its way out (as finish, revert and abort do)', async () => {
    const root = path.join(tmp, `${shell.name}-frees-on-exit`)
    await prepared(shell, root, 'r1')
    const lock = lockOf(root)
    const leftover = spawn('sh', ['-c', 'trap \'rm -rf "$0"; exit 143\' TERM; sleep 30 & wait', lock], { detached: true, stdio: 'ignore' })
    const ownerFile = path.join(lock, 'owner')
    fs.writeFileSync(ownerFile, fs.readFileSync(ownerFile, 'utf8').replace(/"pid":\d+,"pgid":\d+/, `"pid":${leftover.pid},"pgid":${leftover.pid}`))
    const run = runShell(shell, recoverScript(planFor(root, 'r1')), { cwd: tmp })
    expect(run.code, run.stderr).toBe(0)
    expect(value(run.results, 'lock')).toBe('held')
    expect(fs.readFileSync(ownerFile, 'utf8')).toContain('"token":"token-r1"')
  })
})
