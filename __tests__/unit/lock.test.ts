/**
 * The deploy lock (src/remote/sh/lib/lock.sh) when its owner file cannot be
 * written, as on a full disk, under dash, BusyBox sh (with BusyBox's sed,
 * mv, date) and bash: the run that could not write it leaves no lock
 * behind, and a lock left without an owner by an older run stops blocking
 * deploys after five minutes, but not before.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { describe, expect, it } from 'vitest'
import { testDeployPlan } from '../support/deploy-plan'
import { DeployPlan } from '../../src/remote/plan'
import { finishScript, prepareScript, rollbackScript, switchScript } from '../../src/remote/scripts'
import { expectedFindLines, listSource } from '../../src/upload/file-list'
import { packArchive } from '../../src/upload/archive'
import { EXIT } from '../../src/remote/exit-codes'
import { runShell, serverShells, Shell } from '../support/shells'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-lock-'))
const SHELLS = serverShells(tmp)

function plan(deployPath: string, releaseId: string, expectedEntries: number): DeployPlan {
  return testDeployPlan(deployPath, { releaseId, lockToken: `token-${releaseId}`, lockOwner: `{"token":"token-${releaseId}"}`, expectedEntries })
}

async function upload(): Promise<{ data: Buffer; entries: number }> {
  const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
  fs.writeFileSync(path.join(ws, 'index.html'), 'hello')
  const listing = await listSource(ws, [])
  const archive = await packArchive(ws, listing.entries, 'none')
  const chunks: Buffer[] = []
  for await (const chunk of archive.stream) chunks.push(chunk as Buffer)
  await archive.finished
  return { data: Buffer.concat(chunks), entries: expectedFindLines(listing.entries) }
}

/** `before` runs first in the same shell (a limit the script inherits). */
async function deploy(shell: Shell, root: string, id: string, before = '') {
  const { data, entries } = await upload()
  const p = plan(root, id, entries)
  const prepared = runShell(shell, `${before}\n${prepareScript(p)}`, { input: data, cwd: tmp })
  if (prepared.code !== 0) return prepared
  for (const script of [switchScript(p), finishScript(p)]) {
    const step = runShell(shell, script, { cwd: tmp })
    if (step.code !== 0) return step
  }
  return prepared
}

const lockOf = (root: string): string => path.join(root, '.atomic-deploy/lock')

/** A lock folder as a run leaves it when its owner file never got written; `minutesAgo` dates it. */
function ownerlessLock(root: string, minutesAgo: number, emptyOwnerFile = false): void {
  fs.mkdirSync(lockOf(root), { recursive: true })
  if (emptyOwnerFile) fs.writeFileSync(path.join(lockOf(root), 'owner'), '')
  const when = new Date(Date.now() - minutesAgo * 60_000)
  fs.utimesSync(lockOf(root), when, when)
}

// Writes past size 0 fail (EFBIG, the signal ignored) as they would on a full disk.
const NO_ROOM = "trap '' XFSZ; ulimit -f 0"

describe.each(SHELLS)('the deploy lock under $name', (shell) => {
  it('a run that cannot write its owner file removes the lock it made and says why; the next deploy works', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-full-`))
    const full = await deploy(shell, root, 'r1', NO_ROOM)
    expect(full.code, full.stderr).toBe(EXIT.path)
    expect(full.stderr).toContain('could not write the owner file of the deploy lock')
    expect(full.stderr).toContain('disk full')
    expect(fs.existsSync(lockOf(root))).toBe(false)
    expect(fs.readdirSync(path.join(root, 'releases'))).toEqual([])
    const next = await deploy(shell, root, 'r2')
    expect(next.code, next.stderr).toBe(0)
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/r2')
  })

  it.each([
    ['no owner file', false],
    ['an empty owner file', true]
  ])('takes over a lock with %s that is older than five minutes, and says so', async (_what, empty) => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-ownerless-old-`))
    ownerlessLock(root, 6, empty)
    const taken = await deploy(shell, root, 'r1')
    expect(taken.code, taken.stderr).toBe(0)
    expect(taken.stderr).toContain('the lock has had no owner file for over 5 minutes')
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/r1')
    expect(fs.existsSync(lockOf(root))).toBe(false)
  })

  it('a rollback takes over an old ownerless lock too', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-ownerless-rollback-`))
    for (const id of ['r1', 'r2']) expect((await deploy(shell, root, id)).code).toBe(0)
    ownerlessLock(root, 10)
    const back = runShell(shell, rollbackScript({ ...plan(root, '', 0), mode: 'rollback' }), { cwd: tmp })
    expect(back.code, back.stderr).toBe(0)
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/r1')
  })

  it.each([
    ['no owner file', false],
    ['an empty owner file', true]
  ])('a young lock with %s still blocks: its run may be writing it', async (_what, empty) => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-ownerless-young-`))
    ownerlessLock(root, 4, empty)
    const blocked = await deploy(shell, root, 'r1')
    expect(blocked.code).toBe(EXIT.locked)
    expect(fs.existsSync(lockOf(root))).toBe(true)
    expect(fs.existsSync(path.join(root, 'current'))).toBe(false)
  })
})
