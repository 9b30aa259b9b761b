/**
 * The release model (src/remote/sh/lib/releases.sh): which releases a deploy
 * keeps, which one a rollback goes to. The real shell functions run under
 * dash, BusyBox sh and bash on temp folders with crafted releases logs, and
 * through the assembled list, finish and rollback scripts: what `list`
 * reports (rollback target, would-prune) must be what rollback and prune
 * then do.
 */
import { execFileSync, spawnSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { beforeAll, describe, expect, it } from 'vitest'
import { testDeployPlan } from '../support/deploy-plan'
import { DeployPlan } from '../../src/remote/plan'
import { finishScript, listScript, prepareScript, rollbackScript, switchScript } from '../../src/remote/scripts'
import { RELEASE_ID_PATTERN } from '../../src/config/release-id'
import { EXIT } from '../../src/remote/exit-codes'
import { expectedFindLines, listSource } from '../../src/upload/file-list'
import { packArchive } from '../../src/upload/archive'

const LIB = path.join(__dirname, '..', '..', 'src', 'remote', 'sh')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-model-'))
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

function run(shell: Shell, script: string, input?: Buffer, env: Record<string, string> = {}) {
  const result = spawnSync(shell.command[0], [...shell.command.slice(1), script], {
    input: input ?? Buffer.alloc(0),
    env: { PATH: shell.path, HOME: tmp, ...env },
    cwd: tmp
  })
  const stdout = result.stdout.toString()
  const results = stdout.split('\n').filter((l) => l.startsWith('@@'))
  const value = (key: string): string | undefined =>
    results
      .filter((l) => l.startsWith(`@@${key} `) || l === `@@${key}`)
      .map((l) => l.slice(key.length + 3))
      .pop()
  return { code: result.status, stdout, stderr: result.stderr.toString(), results, value }
}

function plan(deployPath: string, overrides: Partial<DeployPlan> = {}): DeployPlan {
  return testDeployPlan(deployPath, overrides)
}

/** A deploy as the runner does it: prepare (with a real upload), switch, finish. */
async function deploy(shell: Shell, root: string, id: string, keep: number) {
  const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
  fs.writeFileSync(path.join(ws, 'version.txt'), id)
  const listing = await listSource(ws, [])
  const archive = await packArchive(ws, listing.entries, 'none')
  const chunks: Buffer[] = []
  for await (const chunk of archive.stream) chunks.push(chunk as Buffer)
  await archive.finished
  const p = plan(root, { releaseId: id, keep, expectedEntries: expectedFindLines(listing.entries) })
  const prepared = run(shell, prepareScript(p), Buffer.concat(chunks))
  expect(prepared.code, prepared.stderr).toBe(0)
  expect(run(shell, switchScript(p)).code).toBe(0)
  const finished = run(shell, finishScript(p))
  expect(finished.code, finished.stderr).toBe(0)
  return finished
}

const list = (shell: Shell, root: string, newReleaseId = '', keep = 5) => run(shell, listScript({ ...plan(root, { keep }), newReleaseId }))
const rollback = (shell: Shell, root: string, releaseId = '') => run(shell, rollbackScript({ ...plan(root, { releaseId }), mode: 'rollback' }))
const releasesOn = (root: string): string[] => fs.readdirSync(path.join(root, 'releases')).sort()
const words = (text: string | undefined): string[] => (text ?? '').split(' ').filter(Boolean).sort()

/** A deploy folder with release folders, a releases log of `event id` lines, and current. */
function crafted(name: string, events: string[], current: string, extraDirs: string[] = []): string {
  const root = fs.mkdtempSync(path.join(tmp, `${name}-`))
  fs.mkdirSync(path.join(root, '.atomic-deploy'), { recursive: true })
  fs.mkdirSync(path.join(root, 'releases'))
  const ids = new Set(events.map((line) => line.split(' ')[1]))
  for (const id of [...ids, ...extraDirs]) fs.mkdirSync(path.join(root, 'releases', id), { recursive: true })
  const log = events.map((line) => {
    const [event, id] = line.split(' ')
    return JSON.stringify({ event, id, time: '2026-01-01T00:00:00Z', actor: 'test' })
  })
  fs.writeFileSync(path.join(root, '.atomic-deploy/releases.log'), log.map((l) => `${l}\n`).join(''))
  if (current) fs.symlinkSync(`releases/${current}`, path.join(root, 'current'))
  return root
}

/** What a deploy of `id` does after its switch: the release is there and current, then finish prunes. */
function deployCrafted(shell: Shell, root: string, id: string, keep: number) {
  fs.mkdirSync(path.join(root, 'releases', id))
  const line = (event: string) => `${JSON.stringify({ event, id, time: '2026-01-02T00:00:00Z' })}\n`
  fs.appendFileSync(path.join(root, '.atomic-deploy/releases.log'), line('prepared') + line('deployed'))
  fs.rmSync(path.join(root, 'current'), { force: true })
  fs.symlinkSync(`releases/${id}`, path.join(root, 'current'))
  fs.mkdirSync(path.join(root, '.atomic-deploy/lock'))
  fs.writeFileSync(path.join(root, '.atomic-deploy/lock/owner'), '{"pid":1,"token":"token-1"}\n')
  const finished = run(shell, finishScript(plan(root, { releaseId: id, keep })))
  expect(finished.code, finished.stderr).toBe(0)
  return finished
}

/** The library's functions, called directly: `. lib/x.sh` for each file, then `call`. */
function callLibrary(shell: Shell, root: string, call: string) {
  const libs = ['output', 'exit-codes', 'paths', 'log', 'releases'].map((l) => `. "$ATOMIC_DEPLOY_LIB/lib/${l}.sh"`)
  return run(shell, ['set -eu', ...libs, call].join('\n'), undefined, { ATOMIC_DEPLOY_LIB: LIB, DEPLOY_PATH: root, RELEASE_ID: '' })
}

/** The finish script (prune, unlock) on a crafted folder, holding the lock as a deploy of `id` would. */
function finishWithLock(shell: Shell, root: string, id: string, keep: number, pathVar?: string) {
  fs.mkdirSync(path.join(root, '.atomic-deploy/lock'))
  fs.writeFileSync(path.join(root, '.atomic-deploy/lock/owner'), '{"pid":1,"token":"token-1"}\n')
  return run(pathVar ? { ...shell, path: pathVar } : shell, finishScript(plan(root, { releaseId: id, keep })))
}

/** list's answers must be what prune and rollback then do. */
function expectListAgreesWithRollback(shell: Shell, root: string) {
  const target = list(shell, root).value('rollback-target')
  expect(target).toBeDefined()
  const rolled = rollback(shell, root)
  if (target) {
    expect(rolled.code, rolled.stderr).toBe(0)
    expect(rolled.value('current')).toBe(target)
  } else {
    expect(rolled.code).toBe(EXIT.noRollbackTarget)
  }
}

describe.each(SHELLS)('the release model under $name', (shell) => {
  it('deploy A, B, C; roll back to A by id: a dry run of D with keep 2 would prune B and C, and the deploy of D prunes exactly those', async () => {
    const root = fs.mkdtempSync(path.join(tmp, `${shell.name}-history-`))
    for (const id of ['A', 'B', 'C']) await deploy(shell, root, id, 5)
    expect(rollback(shell, root, 'A').value('current')).toBe('A')
    const before = list(shell, root, 'D', 2)
    expect(before.code, before.stderr).toBe(0)
    expect(words(before.value('would-prune'))).toEqual(['B', 'C'])
    // C was rolled back from (bad); B is the good release ranked next after A.
    expect(before.value('rollback-target')).toBe('B')
    const finished = await deploy(shell, root, 'D', 2)
    expect(words(finished.value('pruned'))).toEqual(['B', 'C'])
    expect(releasesOn(root)).toEqual(['A', 'D'])
    // A last became current after B did: it is the rollback target now.
    expect(list(shell, root).value('rollback-target')).toBe('A')
    expectListAgreesWithRollback(shell, root)
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/A')
  }, 180_000)

  it('ranks by when a release last became current: after a rollback to A by id, a rollback goes to B, not nowhere', () => {
    const root = crafted(`${shell.name}-rank`, ['prepared A', 'deployed A', 'prepared B', 'deployed B', 'prepared C', 'deployed C', 'marked-bad C', 'rolled-back A'], 'A')
    expect(callLibrary(shell, root, 'release_ranking').stdout).toBe('8 good A\n6 bad C\n4 good B\n')
    expect(list(shell, root).value('rollback-target')).toBe('B')
    expectListAgreesWithRollback(shell, root)
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/B')
  })

  it('bad releases take no kept slot and are no rollback target; a later rollback to one makes it good again', () => {
    const root = crafted(`${shell.name}-bad`, ['deployed A', 'deployed B', 'deployed C', 'marked-bad C', 'deployed E', 'reverted E'], 'C')
    const listed = list(shell, root, 'D', 2)
    expect(words(listed.value('would-prune'))).toEqual(['A', 'C', 'E'])
    expect(listed.value('rollback-target')).toBe('B')
    expect(words(deployCrafted(shell, root, 'D', 2).value('pruned'))).toEqual(['A', 'C', 'E'])
    expect(releasesOn(root)).toEqual(['B', 'D'])

    const again = crafted(`${shell.name}-bad-again`, ['deployed A', 'deployed B', 'marked-bad B', 'rolled-back A', 'marked-bad A', 'rolled-back B'], 'B')
    expect(callLibrary(shell, again, 'release_state B; echo; release_state A').stdout).toBe('good\nbad')
    expect(list(shell, again).value('rollback-target')).toBe('')
    expectListAgreesWithRollback(shell, again)
  })

  it('a bad current release takes no kept slot: with keep 1 the release a rollback needs survives the prune', () => {
    // after-activate failed with revert-on-failure false: W3 is live and marked bad.
    const root = crafted(`${shell.name}-bad-current`, ['deployed W1', 'deployed W2', 'deployed W3', 'marked-bad W3'], 'W3')
    const finished = finishWithLock(shell, root, 'W3', 1)
    expect(finished.code, finished.stderr).toBe(0)
    expect(words(finished.value('pruned'))).toEqual(['W1'])
    expect(releasesOn(root)).toEqual(['W2', 'W3'])
    expect(list(shell, root).value('rollback-target')).toBe('W2')
    expectListAgreesWithRollback(shell, root)
  })

  it('a prune that is cut short leaves no partial release in releases/; the next prune clears what it left', () => {
    const root = crafted(`${shell.name}-cut-short`, ['deployed A', 'deployed B', 'deployed C'], 'C')
    fs.writeFileSync(path.join(root, 'releases', 'A', 'file'), 'a')
    // An rm that removes nothing and fails, as a prune killed half-way leaves things.
    const brokenRm = fs.mkdtempSync(path.join(tmp, 'broken-rm-'))
    fs.writeFileSync(path.join(brokenRm, 'rm'), '#!/bin/sh\nexit 1\n', { mode: 0o755 })
    const cut = finishWithLock(shell, root, 'C', 2, `${brokenRm}:${shell.path}`)
    expect(cut.stderr).toContain('could not be removed')
    // A is out of releases/ whole: no rollback or list can ever take what is left of it for a release.
    expect(releasesOn(root)).toEqual(['B', 'C'])
    expect(list(shell, root).value('rollback-target')).toBe('B')
    fs.rmSync(path.join(root, '.atomic-deploy/lock'), { recursive: true, force: true })
    const next = finishWithLock(shell, root, 'C', 2)
    expect(next.code, next.stderr).toBe(0)
    expect(fs.existsSync(path.join(root, '.atomic-deploy/trash'))).toBe(false)
    expect(releasesOn(root)).toEqual(['B', 'C'])
  })

  it('failed releases take no kept slot and are removed', () => {
    const root = crafted(`${shell.name}-failed`, ['deployed A', 'prepared F', 'failed F', 'deployed B', 'prepared G', 'deployed G', 'failed G'], 'B')
    const listed = list(shell, root, 'D', 3)
    expect(words(listed.value('would-prune'))).toEqual(['F', 'G'])
    expect(listed.value('rollback-target')).toBe('A')
    expect(words(deployCrafted(shell, root, 'D', 3).value('pruned'))).toEqual(['F', 'G'])
    expect(releasesOn(root)).toEqual(['A', 'B', 'D'])
    expectListAgreesWithRollback(shell, root)
  })

  it('a release prepared but never switched to takes no slot, is pruned, and cannot be rolled back to', () => {
    const root = crafted(`${shell.name}-prepared`, ['deployed A', 'deployed B', 'prepared P'], 'B')
    expect(callLibrary(shell, root, 'release_state P').stdout).toBe('never')
    const half = rollback(shell, root, 'P')
    expect(half.code).toBe(EXIT.unknownRelease)
    expect(half.stderr).toContain('was never switched to')
    const listed = list(shell, root, 'D', 3)
    expect(words(listed.value('would-prune'))).toEqual(['P'])
    expect(words(deployCrafted(shell, root, 'D', 3).value('pruned'))).toEqual(['P'])
    expect(releasesOn(root)).toEqual(['A', 'B', 'D'])
  })

  it('never touches folders the log does not know, nor names that are not release ids, nor what current points to', () => {
    const root = crafted(`${shell.name}-foreign`, ['deployed A', 'deployed B', 'deployed -x', 'deployed .hidden', 'deployed C', 'marked-bad C'], 'C', ['manual', 'backup.old'])
    expect(list(shell, root).results).not.toContain('@@release -x')
    const listed = list(shell, root, 'D', 1)
    expect(words(listed.value('would-prune'))).toEqual(['A', 'B', 'C'])
    expect(listed.value('rollback-target')).toBe('B')
    // A real prune with keep 1 while C (bad) is current: C stays, and so does B,
    // the good release a rollback needs (a bad current takes no kept slot).
    const finished = finishWithLock(shell, root, 'C', 1)
    expect(finished.code, finished.stderr).toBe(0)
    expect(words(finished.value('pruned'))).toEqual(['A'])
    expect(releasesOn(root)).toEqual(['-x', '.hidden', 'B', 'C', 'backup.old', 'manual'].sort())
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/C')
    expectListAgreesWithRollback(shell, root)
  })

  it('with no log, or nothing good besides current, there is no rollback target and nothing to prune', () => {
    const root = crafted(`${shell.name}-empty`, [], '', ['manual'])
    fs.rmSync(path.join(root, '.atomic-deploy/releases.log'))
    const listed = list(shell, root, 'D', 1)
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.value('rollback-target')).toBe('')
    expect(listed.value('would-prune')).toBe('')
    expect(list(shell, root).results.some((l) => l.startsWith('@@would-prune'))).toBe(false)
    expectListAgreesWithRollback(shell, root)
  })

  it('counts the names src/config/release-id.ts allows, and only those', () => {
    const names = ['A', 'r1', 'run12.1abc', '_x', '9', 'a-b_c.d', 'x'.repeat(128), '', '.hidden', '-x', 'a/b', 'a b', 'x'.repeat(129), 'é', 'a*']
    const script = names.map((n) => `if is_release_id '${n}'; then echo yes; else echo no; fi`).join('\n')
    const answers = callLibrary(shell, tmp, script).stdout.trim().split('\n')
    expect(answers).toEqual(names.map((n) => (RELEASE_ID_PATTERN.test(n) ? 'yes' : 'no')))
  })
})
