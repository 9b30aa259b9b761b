/**
 * Health-gated activation and rollout on fake connections: which hosts
 * switch, in which order, and where each ends when a health check fails
 * (together, canary, rolling; with and without revert-on-failure). The
 * health script itself runs for real in health-script.test.ts; e2e on
 * servers in network namespaces in __tests__/e2e/health.test.ts.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Readable } from 'stream'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { DeploySettings, Rollout } from '../../src/config/settings'
import { Connector } from '../../src/ssh/connection'
import { runMode } from '../../src/core/run-mode'
import { DeployError } from '../../src/core/errors'
import { HostResult } from '../../src/core/results'
import { Reporter } from '../../src/core/reporter'
import { FakeHost, FakeServer, Fault } from '../support/fake-host'
import { FAKE_HEALTH, fakeDeploySettings } from '../support/fake-settings'

vi.mock('../../src/upload/archive', () => ({
  localCompressors: () => Promise.resolve(new Set(['none'])),
  packArchive: () => {
    const data = Buffer.alloc(10240)
    return Promise.resolve({ stream: Readable.from([data]), bytesSent: () => data.length, finished: Promise.resolve(), abort: () => undefined })
  }
}))

const sourceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-rollout-unit-'))
fs.writeFileSync(path.join(sourceDir, 'index.html'), 'hello\n')
afterAll(() => fs.rmSync(sourceDir, { recursive: true, force: true }))

function settings(rollout: Rollout, batchSize: number, revertOnFailure = true): DeploySettings {
  return fakeDeploySettings(sourceDir, 3, { revertOnFailure, health: FAKE_HEALTH, rollout, batchSize })
}

async function deploy(s: DeploySettings, faults: Record<number, Fault[]> = {}) {
  const counter = { next: 0 }
  const fakes = [0, 1, 2].map((i) => new FakeHost(`deploy@h${i + 1}`, new FakeServer('r2', ['r1', 'r2']), { faults: faults[i] ?? [], latency: 1 + i, counter }))
  const connect: Connector = (_s, target) => Promise.resolve(fakes[Number(target.host.slice(1)) - 1])
  const log: string[] = []
  const reporter: Reporter = { info: (l) => log.push(l), warning: (l) => log.push(`warning: ${l}`), group: (_t, work) => work(), rememberCleanup: () => undefined }
  let results: HostResult[] = []
  let error: DeployError | undefined
  try {
    results = (await runMode(s, reporter, connect)).results
  } catch (e) {
    if (!(e instanceof DeployError)) throw e
    error = e
    results = e.results
  }
  return { fakes, results, error, log }
}

const unhealthy: Fault[] = [{ kind: 'exit', phase: 'health' }]
const seqOf = (fake: FakeHost, phase: string): number => fake.sent.find((s) => s.phase === phase)?.seq ?? Infinity

describe('health-gated rollout', () => {
  it('together: every host switches, is checked, then all prune; each result says how long its check took', async () => {
    const { fakes, results, error } = await deploy(settings('together', 1))
    expect(error).toBeUndefined()
    for (const fake of fakes) expect(fake.phases.filter((p) => p !== 'list')).toEqual(['inspect', 'prepare', 'switch', 'health', 'finish'])
    // No host prunes before every host is healthy.
    const lastHealth = Math.max(...fakes.map((f) => seqOf(f, 'health')))
    for (const fake of fakes) expect(seqOf(fake, 'finish')).toBeGreaterThan(lastHealth)
    expect(results.map((r) => [r.status, r.releaseId, typeof r.healthSeconds])).toEqual([
      ['deployed', 'r3', 'number'],
      ['deployed', 'r3', 'number'],
      ['deployed', 'r3', 'number']
    ])
  })

  it('together: one unhealthy host switches every host back and marks the release bad', async () => {
    const { fakes, results, error } = await deploy(settings('together', 1), { 1: unhealthy })
    expect(error?.step).toBe('health')
    expect(results.map((r) => r.status)).toEqual(['reverted', 'unhealthy', 'reverted'])
    for (const fake of fakes) {
      expect(fake.server.current).toBe('r2')
      expect(fake.server.bad.has('r3')).toBe(true)
      expect(fake.phases).not.toContain('finish')
    }
    expect(error?.message).toContain('health failed (injected)')
  })

  it('canary: a healthy canary, then the rest; all switch and are checked', async () => {
    const { fakes, error } = await deploy(settings('canary', 1))
    expect(error).toBeUndefined()
    expect(seqOf(fakes[1], 'switch')).toBeGreaterThan(seqOf(fakes[0], 'health'))
    expect(seqOf(fakes[2], 'switch')).toBeGreaterThan(seqOf(fakes[0], 'health'))
    for (const fake of fakes) expect(fake.server.current).toBe('r3')
  })

  it('canary: an unhealthy canary is switched back; the other hosts never switch', async () => {
    const { fakes, results, error } = await deploy(settings('canary', 1), { 0: unhealthy })
    expect(error?.step).toBe('health')
    expect(results.map((r) => r.status)).toEqual(['unhealthy', 'not-switched', 'not-switched'])
    expect(fakes[0].server.history).toEqual(['r2', 'r3', 'r2'])
    for (const fake of fakes.slice(1)) {
      expect(fake.server.history).toEqual(['r2'])
      expect(fake.phases).toContain('abort')
      expect(fake.server.releases).not.toContain('r3')
      expect(fake.server.lock).toBe(false)
    }
  })

  it('rolling, batch 1: host 2 unhealthy: host 1 switched back, host 3 never switched', async () => {
    const { fakes, results, error } = await deploy(settings('rolling', 1), { 1: unhealthy })
    expect(error?.step).toBe('health')
    expect(results.map((r) => r.status)).toEqual(['reverted', 'unhealthy', 'not-switched'])
    expect(seqOf(fakes[1], 'switch')).toBeGreaterThan(seqOf(fakes[0], 'health'))
    expect(fakes[0].server.history).toEqual(['r2', 'r3', 'r2'])
    expect(fakes[1].server.history).toEqual(['r2', 'r3', 'r2'])
    expect(fakes[2].phases).not.toContain('switch')
    expect(fakes[2].server.history).toEqual(['r2'])
    expect(error?.message).toMatch(/deploy@h3: not-switched, current r2/)
  })

  it('rolling, batch 2: the second batch is the last host; a failing first batch stops it', async () => {
    const { fakes, results } = await deploy(settings('rolling', 2), { 0: unhealthy })
    expect(results.map((r) => r.status)).toEqual(['unhealthy', 'reverted', 'not-switched'])
    expect(fakes[2].phases).not.toContain('switch')
  })

  it('rolling without revert-on-failure: the unhealthy host stays, marked bad; the switched one stays; the rest never switch', async () => {
    const { fakes, results, error } = await deploy(settings('rolling', 1, false), { 1: unhealthy })
    expect(error?.step).toBe('health')
    expect(results.map((r) => r.status)).toEqual(['deployed', 'unhealthy', 'not-switched'])
    expect(fakes[1].phases).toContain('mark-bad')
    expect(fakes[1].server.bad.has('r3')).toBe(true)
    expect(fakes[0].server.current).toBe('r3')
    expect(fakes[2].server.history).toEqual(['r2'])
    for (const fake of fakes) expect(fake.server.lock).toBe(false)
  })

  it('a connection lost during the check counts as unhealthy, and the others are switched back', async () => {
    const { fakes, results } = await deploy(settings('together', 1), { 2: [{ kind: 'drop', phase: 'health' }] })
    expect(results.slice(0, 2).map((r) => r.status)).toEqual(['reverted', 'reverted'])
    expect(results[2].status).toBe('failed')
    expect(fakes[0].server.current).toBe('r2')
  })
})
