/**
 * Health-gated releases on a real fleet: three servers, each with a network
 * namespace and a filesystem of its own, an sshd and an nginx serving its
 * current/public (see __tests__/support/netns-fleet.ts), so that one
 * health-url, http://127.0.0.1:8080/health fetched on each server, reaches
 * that server's own nginx. The health page serves the revision file, or 500
 * when the release holds public/broken. Deploys run the committed bundle.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeWorkspace, runAction } from './run-action'
import { parseObjects } from '../support/json'
import { NetnsHost, WEB_PORT, get, startNetnsFleet } from '../support/netns-fleet'

const mounts = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-health-'))
fs.chmodSync(mounts, 0o755)
let hosts: NetnsHost[] = []
let deployPath = ''
let stop = (): Promise<void> => Promise.resolve()

beforeAll(async () => {
  const fleet = await startNetnsFleet(3, path.join(mounts, 'srv'), 'site', [
    '    location = /health {',
    '      if (-f $document_root/broken) { return 500 "broken release\\n"; }',
    '      try_files /REVISION =404;',
    '    }'
  ])
  hosts = fleet.hosts
  deployPath = fleet.path
  stop = fleet.stop
}, 240_000)
afterAll(async () => {
  await stop()
  fs.rmSync(mounts, { recursive: true, force: true })
})

function inputs(extra: Record<string, string>): Record<string, string> {
  const s = hosts[0].server
  return {
    host: hosts.map((h) => `${h.address}:22`).join('\n'),
    username: s.username,
    'ssh-key': s.userKey,
    // On port 22 a known_hosts line names the bare address.
    'known-hosts': hosts.map((h) => h.server.knownHosts.replace(/^\[([^\]]+)\]:22 /gm, '$1 ')).join(''),
    path: deployPath,
    'revision-file': 'public/REVISION',
    'health-url': `http://127.0.0.1:${WEB_PORT}/health`,
    'health-expect': '{release-id}',
    'health-timeout': '3',
    ...extra
  }
}

const current = (h: NetnsHost): string => fs.readlinkSync(path.join(h.root, 'current'))
const statuses = (run: { outputs: Record<string, string> }): unknown[] => parseObjects(run.outputs.results, 'results').map((r) => r.status)
const page = (id: string, more: Record<string, string> = {}): string => makeWorkspace({ 'public/index.html': `page ${id}`, ...more })

describe('health-gated releases across hosts in network namespaces', () => {
  it('a good release passes health-expect {release-id} on every host; each serves its own revision file', async () => {
    for (const id of ['good0', 'good1']) {
      const run = await runAction({ ...inputs({ 'release-id': id }), source: page(id) }, { env: { GITHUB_SHA: 'abcdef1234567890' } })
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(statuses(run)).toEqual(['deployed', 'deployed', 'deployed'])
      for (const r of parseObjects(run.outputs.results, 'results')) expect(typeof r.healthSeconds).toBe('number')
    }
    for (const h of hosts) {
      expect(current(h)).toBe('releases/good1')
      expect(fs.readFileSync(path.join(h.root, 'current/public/REVISION'), 'utf8')).toBe('good1\nabcdef1234567890\n')
      expect((await get(`http://${h.address}:${WEB_PORT}/health`)).body).toBe('good1\nabcdef1234567890\n')
    }
  })

  it('a release whose health page answers 500 is reverted on every host and marked bad; a later rollback skips it. Counts what the load saw', async () => {
    // Bounded load on host 1's nginx while the deploy runs: at most 200000 requests or 120 s.
    let deploying = true
    const seen: Array<{ at: number; bad: boolean }> = []
    const load = (async () => {
      const until = Date.now() + 120_000
      while (deploying && seen.length < 200_000 && Date.now() < until) {
        const answer = await get(`http://${hosts[0].address}:${WEB_PORT}/health`).catch(() => ({ status: 0, body: '' }))
        seen.push({ at: Date.now(), bad: answer.status === 500 })
      }
    })()
    const started = Date.now()
    const run = await runAction({ ...inputs({ 'release-id': 'bad500' }), source: page('bad500', { 'public/broken': 'yes' }) })
    const seconds = (Date.now() - started) / 1000
    deploying = false
    await load
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('status 500, body: broken release')
    expect(statuses(run)).toEqual(['unhealthy', 'unhealthy', 'unhealthy'])
    for (const h of hosts) expect(current(h)).toBe('releases/good1')
    const bad = seen.filter((s) => s.bad)
    const window = bad.length ? (bad[bad.length - 1].at - bad[0].at) / 1000 : 0
    console.log(
      `health revert: ${bad.length} of ${seen.length} requests on host 1 saw the bad release; switch to switch-back window ${window.toFixed(2)} s; deploy ${seconds.toFixed(1)} s`
    )
    expect(bad.length).toBeGreaterThan(0)
    // The load saw the switch back too, so the window is whole.
    expect(seen[seen.length - 1].bad).toBe(false)
    // Hang guard, not a speed check: ten times the window measured here (about 6 s: health-timeout 3, the last try, the switch back).
    expect(window).toBeLessThan(60)
    const back = await runAction({ ...inputs({ mode: 'rollback' }) })
    expect(back.code, back.stdout).toBe(0)
    for (const h of hosts) expect(current(h)).toBe('releases/good0')
  })

  it('a release that serves the old id (stale code) fails health-expect and is reverted', async () => {
    const run = await runAction({ ...inputs({ 'release-id': 'stale1', 'revision-file': 'false' }), source: page('stale1', { 'public/REVISION': 'good0\n' }) })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('but the body does not contain "stale1"')
    for (const h of hosts) expect(current(h)).toBe('releases/good0')
  })

  it('canary: unhealthy on the canary only; the other hosts never switch', async () => {
    fs.writeFileSync(path.join(hosts[0].root, 'shared-unhealthy'), '')
    try {
      const run = await runAction({
        ...inputs({ 'release-id': 'can1', rollout: 'canary', 'health-url': '', 'health-expect': '', 'health-command': 'test ! -e "$DEPLOY_PATH/shared-unhealthy"' }),
        source: page('can1')
      })
      expect(run.code).toBe(1)
      expect(statuses(run)).toEqual(['unhealthy', 'not-switched', 'not-switched'])
      expect(run.stdout).toContain('health-command: exit status 1')
      for (const h of hosts) expect(current(h)).toBe('releases/good0')
      for (const h of hosts.slice(1)) expect(fs.existsSync(path.join(h.root, 'releases/can1'))).toBe(false)
    } finally {
      fs.rmSync(path.join(hosts[0].root, 'shared-unhealthy'))
    }
  })

  it('rolling, batch 1, host 2 unhealthy: host 1 switched back, host 3 never switched', async () => {
    fs.writeFileSync(path.join(hosts[1].root, 'shared-unhealthy'), '')
    try {
      const run = await runAction({
        ...inputs({ 'release-id': 'roll1', rollout: 'rolling', 'batch-size': '1', 'health-command': 'test ! -e "$DEPLOY_PATH/shared-unhealthy"' }),
        source: page('roll1')
      })
      expect(run.code).toBe(1)
      expect(statuses(run)).toEqual(['reverted', 'unhealthy', 'not-switched'])
      for (const h of hosts) expect(current(h)).toBe('releases/good0')
      expect(fs.existsSync(path.join(hosts[2].root, 'releases/roll1'))).toBe(false)
    } finally {
      fs.rmSync(path.join(hosts[1].root, 'shared-unhealthy'))
    }
  })

  it('a rollback is health-checked: unhealthy, it fails saying so, and does not bounce back', async () => {
    const run = await runAction({ ...inputs({ mode: 'rollback', 'release-id': 'good1', 'health-url': '', 'health-expect': '', 'health-command': 'echo "cache cold"; exit 5' }) })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('health-command: exit status 5; output: cache cold')
    expect(run.stdout).toContain('which stays current: a rollback does not bounce back')
    for (const h of hosts) expect(current(h)).toBe('releases/good1')
    const again = await runAction({ ...inputs({ mode: 'rollback', 'release-id': 'good0' }) })
    expect(again.code, again.stdout).toBe(0)
  })

  it('dry-run prints the checks and the rollout, and changes nothing', async () => {
    const run = await runAction({ ...inputs({ 'release-id': 'dry1', 'dry-run': 'true', rollout: 'canary' }), source: page('dry1') })
    expect(run.code, run.stdout).toBe(0)
    expect(run.stdout).toContain(`health:  GET http://127.0.0.1:${WEB_PORT}/health from each server: status 200-399, body containing "dry1"`)
    expect(run.stdout).toMatch(/rollout: canary: \S+, then \S+, \S+/)
    expect(run.stdout).toContain('Remote script: health on')
    for (const h of hosts) expect(fs.existsSync(path.join(h.root, 'releases/dry1'))).toBe(false)
  })

  it('health-timeout is honoured: a check that never ends stops after it', async () => {
    const run = await runAction({
      ...inputs({ 'release-id': 'slow1', 'health-url': '', 'health-expect': '', 'health-command': 'sleep 300', 'health-timeout': '2' }),
      source: page('slow1')
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('still running when health-timeout ran out')
    const checks = parseObjects(run.outputs.results, 'results').map((r) => Number(r.healthSeconds))
    // Hang guard: 2 s of health-timeout, then the watchdog's TERM grace; ten times that.
    for (const s of checks) expect(s).toBeLessThan(50)
    for (const h of hosts) expect(current(h)).toBe('releases/good0')
  })
})
