/**
 * The dry run prints exactly the scripts a deploy then sends. Driven in
 * process against the test sshd, through a Connection wrapper around a real
 * RemoteHost that records every script at the connection: first a dry run,
 * then a real deploy with the same settings on the same connection. Covers
 * compression auto (zstd on both ends here), a first full upload, incremental
 * ones after it, and the prune case (deploy A, B, C; roll back to A;
 * deploy D with keep 2: B and C go, as the dry run said).
 *
 * It needs the server's list script to report @@would-prune (the server side
 * of the release model); without that line the dry run fails, by design.
 */
import * as fs from 'fs'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { makeWorkspace } from './run-action'
import { parseSettings } from '../../src/config/inputs'
import { Connection, RemoteHost, RunOptions } from '../../src/ssh/connection'
import { ScriptResult } from '../../src/ssh/protocol'
import { phaseOf } from '../../src/remote/scripts'
import { consoleReporter } from '../../src/core/reporter'
import { dryRunOn } from '../../src/core/dry-run'
import { deployFleet } from '../../src/core/fleet'
import { rollbackOn } from '../../src/core/rollback'
import { FakeServer } from '../support/fake-server'

let server: TestServer
beforeAll(async () => {
  server = await startSshd()
})
afterAll(async () => {
  await server?.stop()
})

/** Passes every script to the real connection, and keeps a copy. */
class RecordingConnection implements Connection {
  readonly sent: Array<{ phase: string; script: string }> = []
  readonly name: string

  constructor(private readonly inner: Connection) {
    this.name = inner.name
  }

  run(script: string, options?: RunOptions): Promise<ScriptResult> {
    this.sent.push({ phase: phaseOf(script) ?? '(unknown)', script })
    return this.inner.run(script, options)
  }

  close(): void {
    this.inner.close()
  }
}

/**
 * Three values differ between any two runs by design, and only they are
 * masked: the lock token (random per run, so that only the run holding the
 * lock may continue or free it; it also appears inside LOCK_OWNER), the time
 * in the lock owner (when the run's plan was made), and the prepare script's
 * CONTROL_NAME (random per run, so that no workspace entry has its name).
 * Everything else must be equal.
 */
function masked(script: string): string {
  const token = FakeServer.assigned(script, 'LOCK_TOKEN')
  expect(token, 'a script without LOCK_TOKEN').toMatch(/^[0-9a-f]{24}$/)
  return script
    .split(token!)
    .join('<lock-token>')
    .replace(/^(LOCK_OWNER=.*"since":")[^"]*(")/m, '$1<time>$2')
    .replace(/^CONTROL_NAME='\.atomic-deploy-control-[0-9a-f]{16}'$/m, "CONTROL_NAME='<control-name>'")
}

const log: string[] = []
const reporter = consoleReporter((line) => log.push(line))

function settingsFor(root: string, source: string, inputs: Record<string, string>) {
  const all: Record<string, string> = {
    host: `${server.host}:${server.port}`,
    username: server.username,
    'ssh-key': server.userKey,
    'known-hosts': server.knownHosts,
    path: root,
    source,
    ...inputs
  }
  return parseSettings((name) => all[name] ?? '', { GITHUB_WORKSPACE: source, GITHUB_ACTOR: 'tester' })
}

/** A dry run and then the deploy, on one recording connection; returns both. */
async function dryRunThenDeploy(root: string, source: string, inputs: Record<string, string>) {
  const settings = settingsFor(root, source, inputs)
  const connection = new RecordingConnection(await RemoteHost.connect(settings, settings.targets[0]))
  try {
    const dry = await dryRunOn([connection], settings, reporter)
    // The dry run only reads: the inspect round trip, and the list.
    expect(connection.sent.map((s) => s.phase)).toEqual(['inspect', 'list'])
    const dryInspect = connection.sent[0].script
    const before = connection.sent.length
    const deployed = await deployFleet([connection], settings, reporter)
    const sent = connection.sent.slice(before)
    // The deploy sends the same inspect, then exactly the phases the dry run printed, in order...
    expect(sent.map((s) => s.phase)).toEqual(['inspect', ...Object.keys(dry.scripts)])
    expect(masked(sent[0].script)).toBe(masked(dryInspect))
    // ...and each script is the one the dry run printed.
    for (const { phase, script } of sent.slice(1)) expect(masked(script), `the ${phase} script`).toBe(masked(dry.scripts[phase]))
    return { dry: dry.hosts[0], deployed, prepare: sent[1].script }
  } finally {
    connection.close()
  }
}

describe('the dry run shows what a deploy sends', () => {
  it('same scripts for a full upload with zstd, then incremental ones; the predicted prune is the real one', async () => {
    const root = path.join(server.root, 'dry-vs-real')
    const ws = makeWorkspace({ 'index.html': 'A', 'assets/app.js': 'x'.repeat(20_000), 'assets/old.css': 'old' })

    // A: nothing on the server yet: a full upload; auto picks zstd, which both ends have here.
    // after-activate makes switch, after-activate and finish separate scripts.
    const a = await dryRunThenDeploy(root, ws, { 'release-id': 'A', keep: '3', 'after-activate': 'echo "activated $RELEASE_ID"' })
    expect(a.dry.upload).toMatchObject({ kind: 'full', compression: 'zstd', entries: 4 })
    expect(FakeServer.assigned(a.prepare, 'COMPRESSION')).toBe('zstd')
    expect(FakeServer.assigned(a.prepare, 'CACHE_BASE')).toBe('')
    expect(a.deployed.compression).toBe('zstd')
    expect(a.deployed.pruned).toEqual(a.dry.wouldPrune)

    // B: one file changed and one removed: an incremental upload against A's cache.
    fs.writeFileSync(path.join(ws, 'index.html'), 'B')
    fs.rmSync(path.join(ws, 'assets/old.css'))
    const b = await dryRunThenDeploy(root, ws, { 'release-id': 'B', keep: '3' })
    expect(b.dry.upload).toMatchObject({ kind: 'incremental', compression: 'zstd', entries: 1, removed: 2, bytes: 1 })
    expect(FakeServer.assigned(b.prepare, 'INCREMENTAL')).toBe('1')
    expect(FakeServer.assigned(b.prepare, 'CACHE_BASE')).toMatch(/^[0-9a-f]{64}$/)
    expect(b.deployed.bytesSent).toBeLessThan(2000)
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/B')
    expect(fs.existsSync(path.join(root, 'releases/B/assets/old.css'))).toBe(false)

    fs.writeFileSync(path.join(ws, 'index.html'), 'C')
    const c = await dryRunThenDeploy(root, ws, { 'release-id': 'C', keep: '3' })
    expect(c.dry.upload.kind).toBe('incremental')
    expect(c.deployed.pruned).toEqual([])

    // Roll back to A, then deploy D with keep 2: the server keeps D and A (the
    // release made current last) and prunes B and C, and the dry run says so.
    const back = settingsFor(root, ws, { mode: 'rollback', 'release-id': 'A' })
    const connection = await RemoteHost.connect(back, back.targets[0])
    try {
      expect((await rollbackOn(connection, back, reporter)).releaseId).toBe('A')
    } finally {
      connection.close()
    }
    fs.writeFileSync(path.join(ws, 'index.html'), 'D')
    const d = await dryRunThenDeploy(root, ws, { 'release-id': 'D', keep: '2' })
    expect(d.dry.current).toBe('A')
    expect(d.dry.wouldPrune).toEqual(['B', 'C'])
    expect(d.deployed.pruned).toEqual(['B', 'C'])
    expect(fs.readdirSync(path.join(root, 'releases')).sort()).toEqual(['A', 'D'])
  })
})
