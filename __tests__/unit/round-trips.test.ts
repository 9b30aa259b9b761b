/**
 * How many times a run goes back and forth with each host once it is
 * connected. Every script run is one SSH channel: open it (a round trip),
 * the exec request (a round trip: ssh2 waits for its reply before it sends
 * stdin), then the script and its answer (a round trip, plus the upload and
 * the server's work). So the scripts a host is sent, counted here on fake
 * connections for each common shape of run, are what a slow link multiplies:
 * 3 round trips each, 150 ms at 50 ms. What one script run costs in SSH
 * messages is asserted against a real SSH server in connection-messages.test.ts.
 * A change that adds a script (or a connection) to any of these runs fails here.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Readable } from 'stream'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { DeploySettings } from '../../src/config/settings'
import { Connection, Connector, RunOptions } from '../../src/ssh/connection'
import { ScriptResult } from '../../src/ssh/protocol'
import { phaseOf } from '../../src/remote/scripts'
import { manifestDigest } from '../../src/upload/manifest'
import { runMode } from '../../src/core/run-mode'
import { Reporter } from '../../src/core/reporter'
import { FakeHost, FakeServer } from '../support/fake-host'
import { FAKE_HEALTH, fakeDeploySettings } from '../support/fake-settings'

/** What the last upload carried: the manifest lines it added to the server's cache, and how many entries it packed. */
const uploaded = vi.hoisted(() => ({ manifest: '', entries: -1 }))

vi.mock('../../src/upload/archive', () => ({
  localCompressors: () => Promise.resolve(new Set(['none'])),
  packArchive: (_dir: string, entries: unknown[], _compression: string, control?: { files: Array<{ name: string; data: Buffer }> }) => {
    uploaded.entries = entries.length
    const add = control?.files.find((f) => f.name === 'add')
    if (add) uploaded.manifest = add.data.toString('utf8')
    const data = Buffer.alloc(10240)
    return Promise.resolve({ stream: Readable.from([data]), bytesSent: () => data.length, finished: Promise.resolve(), abort: () => undefined })
  }
}))

const sourceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-round-trips-'))
fs.writeFileSync(path.join(sourceDir, 'index.html'), 'hello\n')
fs.mkdirSync(path.join(sourceDir, 'css'))
fs.writeFileSync(path.join(sourceDir, 'css', 'app.css'), 'body {}\n')
afterAll(() => fs.rmSync(sourceDir, { recursive: true, force: true }))

/**
 * The fake host, except that its inspect answer shows an upload cache
 * holding `cached` (the manifest of an earlier upload), as a server that
 * keeps one would: so a second deploy plans an incremental upload.
 */
class CachingHost implements Connection {
  cached = ''
  constructor(readonly fake: FakeHost) {}
  get name(): string {
    return this.fake.name
  }
  async run(script: string, options?: RunOptions): Promise<ScriptResult> {
    const result = await this.fake.run(script, options)
    if (phaseOf(script) !== 'inspect') return result
    const has: ScriptResult['results'] = [['has', 'sha256sum']]
    if (!this.cached) return { ...result, results: [...has, ...result.results] }
    const stdout = `@@has sha256sum\n@@cache-ok ${manifestDigest(this.cached)}\n@@manifest-follows\n${this.cached}@@manifest-ends\n`
    return { ...result, stdout, results: [...has, ['cache-ok', manifestDigest(this.cached)], ...result.results.filter(([k]) => k !== 'cache-miss')] }
  }
  close(): void {
    this.fake.close()
  }
}

interface Counted {
  /** The scripts each host was sent, in order. */
  phases: string[][]
  /** Connections opened to each host. */
  connections: number[]
}

async function count(settings: DeploySettings, hosts: CachingHost[]): Promise<Counted> {
  const opened = hosts.map(() => 0)
  const connect: Connector = (_settings, target) => {
    const index = Number(target.host.slice(1)) - 1
    opened[index]++
    return Promise.resolve(hosts[index])
  }
  const reporter: Reporter = { info: () => undefined, warning: () => undefined, group: (_title, work) => work(), rememberCleanup: () => undefined }
  hosts.forEach((h) => h.fake.sent.splice(0))
  await runMode(settings, reporter, connect)
  return { phases: hosts.map((h) => h.fake.phases), connections: opened }
}

function hostsFor(n: number, current = 'r2', releases = ['r1', 'r2']): CachingHost[] {
  return Array.from({ length: n }, (_, i) => new CachingHost(new FakeHost(`deploy@h${i + 1}`, new FakeServer(current, releases))))
}

/** Round trips after the handshake, at 3 a script run (see the top of this file). */
const roundTrips = (phases: string[]): number => 3 * phases.length

describe('script runs (each 3 round trips) after connecting, per host', () => {
  it('one host, full upload: inspect, prepare, then switch and finish in one script that also reports the release list', async () => {
    const counted = await count(fakeDeploySettings(sourceDir, 1), hostsFor(1))
    expect(counted).toEqual({ phases: [['inspect', 'prepare', 'switch-and-finish']], connections: [1] })
    expect(roundTrips(counted.phases[0])).toBe(9)
  })

  it('one host, incremental upload from the server cache: the same three scripts, and only what changed is packed', async () => {
    const hosts = hostsFor(1)
    const settings = fakeDeploySettings(sourceDir, 1, { incremental: true, releaseId: 'r3' })
    const first = await count(settings, hosts)
    expect(first.phases).toEqual([['inspect', 'prepare', 'switch-and-finish']])
    expect(uploaded.manifest).not.toBe('')
    // The next run connects anew, to the same server, which now holds that upload's cache.
    const again = new CachingHost(hosts[0].fake.reconnect())
    again.cached = uploaded.manifest
    const second = await count({ ...settings, releaseId: 'r4' }, [again])
    expect(uploaded.entries).toBe(0)
    expect(second).toEqual({ phases: [['inspect', 'prepare', 'switch-and-finish']], connections: [1] })
  })

  it('one host with after-activate: switch, the hook and finish are separate scripts (a failing hook must be able to switch back)', async () => {
    const counted = await count(fakeDeploySettings(sourceDir, 1, { afterActivate: 'systemctl reload app' }), hostsFor(1))
    expect(counted).toEqual({ phases: [['inspect', 'prepare', 'switch', 'after-activate', 'finish']], connections: [1] })
    expect(roundTrips(counted.phases[0])).toBe(15)
  })

  it('one host with a health check: switch, health, finish', async () => {
    const counted = await count(fakeDeploySettings(sourceDir, 1, { health: FAKE_HEALTH }), hostsFor(1))
    expect(counted).toEqual({ phases: [['inspect', 'prepare', 'switch', 'health', 'finish']], connections: [1] })
  })

  it('one host with after-activate and a health check: switch, the hook, health, finish', async () => {
    const counted = await count(fakeDeploySettings(sourceDir, 1, { afterActivate: 'systemctl reload app', health: FAKE_HEALTH }), hostsFor(1))
    expect(counted).toEqual({ phases: [['inspect', 'prepare', 'switch', 'after-activate', 'health', 'finish']], connections: [1] })
  })

  it('three hosts: each is sent inspect, prepare, switch, finish, side by side; only the first reports the release list, in its finish', async () => {
    const counted = await count(fakeDeploySettings(sourceDir, 3), hostsFor(3))
    const each = ['inspect', 'prepare', 'switch', 'finish']
    expect(counted).toEqual({ phases: [each, each, each], connections: [1, 1, 1] })
  })

  it('a rollback is one script, which also reports the release list', async () => {
    const settings: DeploySettings = { ...fakeDeploySettings(sourceDir, 1), mode: 'rollback', releaseId: '', releaseIdGiven: false }
    const counted = await count(settings, hostsFor(1, 'r3', ['r1', 'r2', 'r3']))
    expect(counted).toEqual({ phases: [['rollback']], connections: [1] })
    expect(roundTrips(counted.phases[0])).toBe(3)
  })
})
