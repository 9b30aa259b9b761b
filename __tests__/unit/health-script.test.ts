/**
 * The health script (src/remote/sh/health.sh) run for real, under dash and
 * BusyBox sh, against an HTTP server on 127.0.0.1, with each HTTP client the
 * script can use (curl, GNU wget, BusyBox wget) and with none. The fleet's
 * decisions on its answer are in fleet.test.ts; the e2e tests run it on
 * servers in network namespaces (health.test.ts).
 */
import { execFileSync } from 'child_process'
import * as fs from 'fs'
import * as http from 'http'
import { AddressInfo } from 'net'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HealthSettings } from '../../src/config/settings'
import { healthScript } from '../../src/remote/scripts'
import { HealthPlan } from '../../src/remote/plan'
import { EXIT } from '../../src/remote/exit-codes'
import { localRunner } from '../support/local-runner'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-health-'))
const root = path.join(tmp, 'app')
fs.mkdirSync(path.join(root, 'releases', 'r9'), { recursive: true })
fs.mkdirSync(path.join(root, '.atomic-deploy'))
fs.writeFileSync(path.join(root, 'releases', 'r9', 'marker'), 'here\n')

/** BusyBox's tools without an HTTP client, and one folder per client to put before them. */
const tools = path.join(tmp, 'tools')
const clients: Record<string, string> = {}
beforeAll(() => {
  fs.mkdirSync(tools)
  execFileSync('busybox', ['--install', '-s', tools])
  fs.rmSync(path.join(tools, 'wget'))
  for (const [name, target] of [
    ['curl', '/usr/bin/curl'],
    ['wget', '/usr/bin/wget'],
    ['busybox-wget', '/usr/bin/busybox']
  ]) {
    const dir = path.join(tmp, `client-${name}`)
    fs.mkdirSync(dir)
    fs.symlinkSync(target, path.join(dir, name === 'curl' ? 'curl' : 'wget'))
    clients[name] = dir
  }
  clients.none = path.join(tmp, 'client-none')
  fs.mkdirSync(clients.none)
})

let flaky = 0
const server = http.createServer((request, response) => {
  const route = request.url ?? ''
  if (route === '/ok') return void response.end('release r9 is live\n')
  if (route === '/stale') return void response.end('release r8 is live\n')
  if (route === '/500') return void response.writeHead(500).end('Fatal error: boom in index.php')
  if (route === '/flaky') return void (++flaky < 3 ? response.writeHead(503).end('starting') : response.end('r9'))
  if (route === '/moved') return void response.writeHead(302, { location: '/500' }).end()
  // /hang: never answers.
})
let base = ''
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => {
  server.closeAllConnections()
  server.close()
  fs.rmSync(tmp, { recursive: true, force: true })
})

function plan(health: Partial<HealthSettings>): HealthPlan {
  return {
    mode: 'deploy',
    deployPath: root,
    releaseId: 'r9',
    lockToken: 't',
    lockOwner: '{}',
    logFields: '',
    health: { urls: [], command: '', expect: '', status: [[200, 399]], timeoutSeconds: 5, intervalSeconds: 1, ...health }
  }
}

function check(shell: 'dash' | 'busybox', client: string, health: Partial<HealthSettings>) {
  // Absolute: the PATH given is the server's, without the shells' folder.
  const command = shell === 'dash' ? ['/usr/bin/dash', '-c'] : ['/usr/bin/busybox', 'sh', '-c']
  return localRunner({ command, PATH: `${clients[client]}:${tools}`, home: tmp }).run(healthScript(plan(health)))
}

const probes = (results: Array<[string, string]>): string[] => results.filter(([k]) => k === 'probe').map(([, v]) => v)

describe('the health script', () => {
  it.each(['curl', 'wget', 'busybox-wget'])('%s: a page that answers 200 with the release id is healthy', async (client) => {
    const result = await check('dash', client, { urls: [`${base}/ok`], expect: 'r9' })
    expect(result.code, result.stderr).toBe(0)
    expect(result.results).toContainEqual(['healthy', '1'])
  })

  it.each(['curl', 'wget', 'busybox-wget'])('%s: a 500 page is unhealthy, and the probe gives the URL and status', async (client) => {
    const result = await check('busybox', client, { urls: [`${base}/500`], timeoutSeconds: 1 })
    expect(result.code, result.stderr).toBe(EXIT.unhealthy)
    const [probe] = probes(result.results)
    expect(probe).toContain(`${base}/500: status 500`)
    // BusyBox wget keeps no body of an error page; the others show it.
    if (client !== 'busybox-wget') expect(probe).toContain('Fatal error: boom in index.php')
  })

  it.each(['curl', 'wget', 'busybox-wget'])('%s: a redirect is followed, so a page that moved to an error page is unhealthy with every client', async (client) => {
    const result = await check('dash', client, { urls: [`${base}/moved`], timeoutSeconds: 1 })
    expect(result.code, result.stderr).toBe(EXIT.unhealthy)
    expect(probes(result.results)).toEqual([expect.stringContaining(`${base}/moved: status 500`)])
  })

  it('a page that serves another release id fails health-expect, saying what it served', async () => {
    const result = await check('dash', 'curl', { urls: [`${base}/stale`], expect: '{release-id}', timeoutSeconds: 1 })
    expect(result.code).toBe(EXIT.unhealthy)
    expect(probes(result.results)).toEqual([`${base}/stale: status 200, but the body does not contain "r9"; body: release r8 is live `])
  })

  it('tries again every interval until the page is healthy', async () => {
    flaky = 0
    const result = await check('dash', 'curl', { urls: [`${base}/flaky`], expect: 'r9', timeoutSeconds: 10 })
    expect(result.code, result.stderr).toBe(0)
    expect(result.results).toContainEqual(['healthy', '3'])
  })

  it('health-command runs in the release; its failure and output are the probe', async () => {
    const ok = await check('busybox', 'none', { command: 'test -f marker && test "$RELEASE_ID" = r9' })
    expect(ok.code, ok.stderr).toBe(0)
    const failed = await check('busybox', 'none', { command: 'echo "db is down"\nexit 3', timeoutSeconds: 1 })
    expect(failed.code).toBe(EXIT.unhealthy)
    expect(probes(failed.results)).toEqual(['health-command: exit status 3; output: db is down '])
  })

  it('a server without curl or wget fails naming what to install', async () => {
    const result = await check('dash', 'none', { urls: [`${base}/ok`] })
    expect(result.code).toBe(EXIT.httpClient)
    expect(result.stderr).toContain('install curl or wget')
  })

  it.each(['curl', 'busybox-wget'])('%s: health-timeout bounds a page that never answers and a command that never ends', async (client) => {
    const started = Date.now()
    const result = await check('dash', client, { urls: [`${base}/hang`], command: 'sleep 60', timeoutSeconds: 2 })
    const seconds = (Date.now() - started) / 1000
    expect(result.code).toBe(EXIT.unhealthy)
    expect(probes(result.results)).toEqual([
      expect.stringContaining(`${base}/hang: no answer`),
      expect.stringContaining('health-command: still running when health-timeout ran out')
    ])
    // Hang guard: the checks end about when health-timeout says (2 s, then the watchdogs' TERM grace).
    expect(seconds).toBeLessThan(30)
    expect(fs.readdirSync(path.join(root, '.atomic-deploy'))).toEqual([])
  })
})
