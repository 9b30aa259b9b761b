/**
 * The runner's side of the release model: the server ranks the releases and
 * reports where a rollback goes (`@@rollback-target`) and what a deploy would
 * prune (`@@would-prune`); `list`, `unlock` and the dry run pass that on, and
 * fail when the server does not say, rather than guess.
 *
 * The fake server's logs are chosen so that a guess from the release list
 * (the old runner-side rules) would give a different answer than the line the
 * server printed: a test passes only if the code uses that line.
 */
import { createHash } from 'crypto'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { describe, expect, it } from 'vitest'
import { parseSettings } from '../../src/config/inputs'
import { runMode } from '../../src/core/run-mode'
import { DeploySettings, HostAddress } from '../../src/config/settings'
import { Reporter } from '../../src/core/reporter'
import { localCompressors } from '../../src/upload/archive'
import { listSource } from '../../src/upload/file-list'
import { manifestLines, manifestText } from '../../src/upload/manifest'
import { FakeServer, logLines } from '../support/fake-server'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-model-'))

function workspace(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'ws-'))
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), content)
  }
  return dir
}

function settingsFor(inputs: Record<string, string>) {
  const all: Record<string, string> = { host: 'app.example.test', username: 'deploy', password: 'pw', path: '/srv/app', ...inputs }
  return parseSettings((name) => all[name] ?? '', { GITHUB_WORKSPACE: tmp }, new Date('2026-01-02T03:04:05Z'))
}

function recorder(): Reporter & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    info: (line) => lines.push(line),
    warning: (line) => lines.push(`warning: ${line}`),
    group: async (title, work) => {
      lines.push(`== ${title}`)
      return work()
    },
    rememberCleanup: () => undefined
  }
}

/** A connector that hands out the fake servers in the order of the targets. */
const connectTo =
  (...servers: FakeServer[]) =>
  (settings: DeploySettings, target: HostAddress) =>
    Promise.resolve(servers[settings.targets.indexOf(target)])

/** A, B and C deployed in that order; then a rollback to A (which marks C bad). */
const ROLLED_BACK_TO_A = {
  current: 'A',
  folders: ['A', 'B', 'C'],
  log: logLines([
    ['deployed', 'A'],
    ['deployed', 'B'],
    ['deployed', 'C'],
    ['marked-bad', 'C'],
    ['rolled-back', 'A']
  ])
}

function listOutput(state: typeof ROLLED_BACK_TO_A, extra: string): string {
  return `@@step list\n@@current ${state.current}\n${state.folders.map((id) => `@@release ${id}\n`).join('')}${state.log}${extra}@@finished list\n`
}

describe('list and unlock: previous-release-id is the server-reported rollback target', () => {
  it('list passes on @@rollback-target, not a pick from the release list', async () => {
    // From the list alone (deploy order C, B, A; C bad; A current and oldest)
    // the old runner-side rule found nothing before A. The server reports B;
    // the outcome must be exactly what it reported.
    const server = new FakeServer('deploy@app', { list: { stdout: listOutput(ROLLED_BACK_TO_A, '@@rollback-target B\n') } })
    const outcome = await runMode(settingsFor({ mode: 'list' }), recorder(), connectTo(server))
    expect(outcome.releaseId).toBe('A')
    expect(outcome.previousReleaseId).toBe('B')
    // The display list still comes from parseReleases.
    expect(outcome.releases.map((r) => [r.id, r.current, r.bad])).toEqual([
      ['C', false, true],
      ['B', false, false],
      ['A', true, false]
    ])
    expect(server.phases()).toEqual(['list'])
    // A plain list asks for no prune prediction: no would-be release id.
    expect(FakeServer.assigned(server.sent[0].script, 'NEW_RELEASE_ID')).toBe('')
    expect(server.closed).toBe(true)
  })

  it('an empty @@rollback-target means there is none', async () => {
    const server = new FakeServer('deploy@app', { list: { stdout: listOutput({ ...ROLLED_BACK_TO_A, current: 'C' }, '@@rollback-target\n') } })
    const outcome = await runMode(settingsFor({ mode: 'list' }), recorder(), connectTo(server))
    expect(outcome.releaseId).toBe('C')
    // From the list, B (good, deployed before C) would have been the guess.
    expect(outcome.previousReleaseId).toBe('')
  })

  it('list fails, naming the host and the missing line, when the server does not report it', async () => {
    const server = new FakeServer('deploy@app', { list: { stdout: listOutput(ROLLED_BACK_TO_A, '') } })
    await expect(runMode(settingsFor({ mode: 'list' }), recorder(), connectTo(server))).rejects.toThrow(
      /deploy@app, step list: the server script did not report the release a rollback would switch to \(no @@rollback-target line\)/
    )
    expect(server.closed).toBe(true)
  })

  it('unlock frees the lock, then reports the rollback target the server gave', async () => {
    const server = new FakeServer('deploy@app', {
      unlock: { stdout: '@@step unlock\n@@unlocked {"token":"t"}\n@@finished unlock\n' },
      list: { stdout: listOutput(ROLLED_BACK_TO_A, '@@rollback-target C\n') }
    })
    const outcome = await runMode(settingsFor({ mode: 'unlock' }), recorder(), connectTo(server))
    expect(server.phases()).toEqual(['unlock', 'list'])
    expect(outcome.unlockedHolder).toBe('{"token":"t"}')
    expect(outcome.previousReleaseId).toBe('C')
  })

  it('unlock without @@rollback-target fails rather than guess', async () => {
    const server = new FakeServer('deploy@app', {
      unlock: { stdout: '@@unlocked \n' },
      list: { stdout: listOutput(ROLLED_BACK_TO_A, '') }
    })
    await expect(runMode(settingsFor({ mode: 'unlock' }), recorder(), connectTo(server))).rejects.toThrow(/did not report/)
  })
})

/** The inspect answer of a server with these tools and, when given, a usable cache holding `manifest`. */
function inspectOutput(tools: string[], manifest?: string): string {
  const has = tools.map((tool) => `@@has ${tool}\n`).join('')
  if (manifest === undefined) return `@@step inspect\n${has}@@cache-miss there is no upload cache yet\n@@finished read-cache\n`
  const digest = createHash('sha256').update(manifest).digest('hex')
  return `@@step inspect\n${has}@@cache-ok ${digest}\n@@manifest-follows\n${manifest}@@manifest-ends\n@@finished read-cache\n`
}

describe('dry run: would-prune is what the server reports for the would-be release', () => {
  const dryInputs = (source: string, extra: Record<string, string> = {}) => ({ 'dry-run': 'true', 'release-id': 'D', keep: '2', source, ...extra })

  it("the issue's case: after rolling back to A, a dry run of D with keep 2 shows the server's B and C", async () => {
    const ws = workspace({ 'index.html': 'D' })
    const server = new FakeServer('deploy@app', {
      inspect: { stdout: inspectOutput(['gzip', 'sha256sum']) },
      // The runner's old rule (deploy order) said "C, A", A being live.
      list: { stdout: listOutput(ROLLED_BACK_TO_A, '@@rollback-target\n@@would-prune B C\n') }
    })
    const reporter = recorder()
    const outcome = await runMode(settingsFor(dryInputs(ws)), reporter, connectTo(server))
    expect(outcome.dryRun!.hosts[0].wouldPrune).toEqual(['B', 'C'])
    expect(outcome.dryRun!.hosts[0].current).toBe('A')
    expect(reporter.lines).toContain('host:    deploy@app: current A; would prune: B, C')
    // Read only: the inspect round trip and the list, nothing that writes.
    expect(server.phases()).toEqual(['inspect', 'list'])
    // The list script is told the would-be release and keep, as its values.
    const list = server.sent[1].script
    expect(FakeServer.assigned(list, 'NEW_RELEASE_ID')).toBe('D')
    expect(FakeServer.assigned(list, 'KEEP')).toBe('2')
  })

  it('an empty @@would-prune means nothing would be pruned', async () => {
    const server = new FakeServer('deploy@app', {
      inspect: { stdout: inspectOutput([]) },
      list: { stdout: listOutput(ROLLED_BACK_TO_A, '@@would-prune\n') }
    })
    const reporter = recorder()
    const outcome = await runMode(settingsFor(dryInputs(workspace({ a: '1' }))), reporter, connectTo(server))
    expect(outcome.dryRun!.hosts[0].wouldPrune).toEqual([])
    expect(reporter.lines).toContain('host:    deploy@app: current A; would prune: nothing')
  })

  it('fails, naming the missing line, when the server does not report would-prune', async () => {
    const server = new FakeServer('deploy@app', {
      inspect: { stdout: inspectOutput([]) },
      list: { stdout: listOutput(ROLLED_BACK_TO_A, '@@rollback-target B\n') }
    })
    await expect(runMode(settingsFor(dryInputs(workspace({ a: '1' }))), recorder(), connectTo(server))).rejects.toThrow(
      /the server script did not report the releases this deploy would prune \(no @@would-prune line\)/
    )
  })

  it('plans the upload as a deploy does: compression auto and an incremental delta against the cache', async () => {
    const ws = workspace({ 'index.html': 'v1', 'keep.txt': 'same', 'gone/old.txt': 'old' })
    const before = manifestText(await manifestLines(ws, (await listSource(ws, [])).entries))
    fs.writeFileSync(path.join(ws, 'index.html'), 'version two')
    fs.rmSync(path.join(ws, 'gone'), { recursive: true })
    // Removed or replaced: index.html (a changed file is replaced), gone/ and gone/old.txt.
    const server = new FakeServer('deploy@app', {
      inspect: { stdout: inspectOutput(['zstd', 'gzip', 'sha256sum'], before) },
      list: { stdout: listOutput(ROLLED_BACK_TO_A, '@@would-prune B\n') }
    })
    const reporter = recorder()
    const outcome = await runMode(settingsFor(dryInputs(ws)), reporter, connectTo(server))
    const host = outcome.dryRun!.hosts[0]
    const local = await localCompressors()
    const expected = local.has('zstd') ? 'zstd' : local.has('gzip') ? 'gzip' : 'none'
    expect(host.upload).toMatchObject({ kind: 'incremental', entries: 1, removed: 3, bytes: 'version two'.length, compression: expected })
    const prepare = host.scripts.prepare
    expect(FakeServer.assigned(prepare, 'COMPRESSION')).toBe(expected)
    expect(FakeServer.assigned(prepare, 'INCREMENTAL')).toBe('1')
    expect(FakeServer.assigned(prepare, 'CACHE_BASE')).toBe(createHash('sha256').update(before).digest('hex'))
    const after = manifestText(await manifestLines(ws, (await listSource(ws, [])).entries))
    expect(FakeServer.assigned(prepare, 'NEXT_DIGEST')).toBe(createHash('sha256').update(after).digest('hex'))
    expect(reporter.lines).toContain(`         incremental upload: 1 new or changed, 3 removed or replaced (11 B), compression ${expected}`)
    // One host, no after-activate: the deploy switches and prunes in one script.
    expect(Object.keys(host.scripts)).toEqual(['prepare', 'switch-and-finish'])
    expect(reporter.lines.some((line) => line.startsWith('== Remote script: prepare on deploy@app'))).toBe(true)
  })

  it('a full upload where the server has no cache, or no sha256sum; compression follows what the server has', async () => {
    const ws = workspace({ a: '1', 'b/c': '22' })
    const noCache = new FakeServer('one', { inspect: { stdout: inspectOutput(['gzip', 'sha256sum']) }, list: { stdout: listOutput(ROLLED_BACK_TO_A, '@@would-prune\n') } })
    const noSha = new FakeServer('two', { inspect: { stdout: inspectOutput([]) }, list: { stdout: listOutput(ROLLED_BACK_TO_A, '@@would-prune\n') } })
    const outcome = await runMode(
      settingsFor({ ...dryInputs(ws), host: 'one\ntwo', 'after-activate': 'echo hi', 'before-activate': 'echo once', 'before-activate-on': 'first' }),
      recorder(),
      connectTo(noCache, noSha)
    )
    const [first, second] = outcome.dryRun!.hosts
    const local = await localCompressors()
    expect(first.upload).toMatchObject({ kind: 'full', entries: 3, bytes: 3, compression: local.has('gzip') ? 'gzip' : 'none' })
    expect(first.upload.summary).toContain('there is no upload cache yet')
    // Without a cache the server still keeps one from this upload.
    expect(FakeServer.assigned(first.scripts.prepare, 'INCREMENTAL')).toBe('1')
    expect(FakeServer.assigned(first.scripts.prepare, 'CACHE_BASE')).toBe('')
    expect(second.upload).toMatchObject({ kind: 'full', compression: 'none' })
    expect(second.upload.summary).toContain('no sha256sum')
    expect(FakeServer.assigned(second.scripts.prepare, 'INCREMENTAL')).toBe('0')
    // Two hosts with after-activate: switch, after-activate and finish are separate; before-activate only on the first.
    expect(Object.keys(first.scripts)).toEqual(['prepare', 'switch', 'after-activate', 'finish'])
    expect(FakeServer.assigned(first.scripts.prepare, 'HOOK_BEFORE_ACTIVATE')).toBe('echo once')
    expect(FakeServer.assigned(second.scripts.prepare, 'HOOK_BEFORE_ACTIVATE')).toBe('')
  })
})
