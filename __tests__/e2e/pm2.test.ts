/**
 * The Node stack of docs/recipes/node-pm2-systemd.md, proven: a small app on
 * Node's own http, run by pm2 in cluster mode from the release, while the
 * committed bundle deploys and rolls back under the bounded load. The
 * ecosystem file, the after-activate hook and the app's SIGINT handler are
 * read from the recipe. After each deploy the app must answer from the new
 * release, and no request may fail. A control with the naive setup (`pm2
 * start` in current, which records the resolved release path) must go on
 * serving the old release, so the check can fail.
 *
 * Each run has its own sshd whose sessions get pm2 on PATH and a private
 * PM2_HOME (sshd's SetEnv); pm2's daemon is killed at the end, and the test
 * checks that it and the app are gone.
 */
import { execFileSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { DEPLOY_USER, TestServer, deployRoot, freePort, startSshd } from './sshd-harness'
import { STACK_LOAD_MAX_MS, describeLoad, failuresOf } from '../support/load'
import { alive, listening } from '../support/processes'
import { fillIn, recipeBlock } from '../support/recipe'
import { LoadRun, Site, deployUnderLoad, staleAnswers } from './under-load'

const RECIPE = 'node-pm2-systemd.md'
const PM2 = path.resolve(__dirname, '../../node_modules/pm2/bin/pm2')
const PAGES = { '/': /^release (r\d\d)\n$/, '/version': /^release (r\d\d)\n$/ }

/** The app: its release id in code, its SIGINT handler from the recipe. */
function files(id: string, root: string, port: number): Record<string, string> {
  const server = [
    "const http = require('http');",
    "const { RELEASE } = require('./release');",
    'const server = http.createServer((req, res) => res.end(`release ${RELEASE}\\n`));',
    'server.listen(Number(process.env.PORT), "127.0.0.1");',
    recipeBlock(RECIPE, 'shutdown')
  ].join('\n')
  return {
    'dist/release.js': `exports.RELEASE = '${id}';\n`,
    'dist/server.js': server,
    'ecosystem.config.js': fillIn(recipeBlock(RECIPE, 'ecosystem'), { '/var/www/app': root, 'PORT: 3000': `PORT: ${port}` })
  }
}

interface Pm2Server {
  server: TestServer
  home: string
  /** Runs the pm2 CLI as the deploy user, with this server's PM2_HOME. */
  pm2(...args: string[]): string
  stop(): Promise<void>
}

const started: Pm2Server[] = []

/** An sshd whose sessions find pm2 (and node) on PATH and use a PM2_HOME of their own. */
async function startPm2Server(): Promise<Pm2Server> {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-pm2-bin-'))
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-pm2-home-'))
  fs.chmodSync(bin, 0o755)
  fs.symlinkSync(PM2, path.join(bin, 'pm2'))
  fs.symlinkSync(process.execPath, path.join(bin, 'node'))
  const PATH = `${bin}:/usr/local/bin:/usr/bin:/bin`
  const server = await startSshd({ extraConfig: `SetEnv PATH=${PATH} PM2_HOME=${home}` })
  const asRoot = process.getuid?.() === 0
  if (asRoot) execFileSync('chown', [DEPLOY_USER, home])
  const pm2 = (...args: string[]): string =>
    execFileSync(asRoot ? 'runuser' : 'env', [...(asRoot ? ['-u', DEPLOY_USER, '--', 'env'] : []), `PATH=${PATH}`, `PM2_HOME=${home}`, 'pm2', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe']
    })
  const running: Pm2Server = {
    server,
    home,
    pm2,
    stop: async () => {
      const daemon = Number(fs.existsSync(path.join(home, 'pm2.pid')) ? fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8') : 0)
      try {
        if (daemon) pm2('kill')
      } finally {
        // Even when pm2 kill failed: this sshd and these folders go, and the daemon is checked below.
        await server.stop()
        fs.rmSync(bin, { recursive: true, force: true })
      }
      const left = daemon && alive(daemon)
      if (left) process.kill(daemon, 'SIGKILL')
      fs.rmSync(home, { recursive: true, force: true })
      expect(left, `pm2's daemon ${daemon} still ran after pm2 kill (now killed)`).toBeFalsy()
    }
  }
  started.push(running)
  return running
}

afterAll(async () => {
  // Each server is stopped even when stopping an earlier one failed.
  const stopped = await Promise.allSettled(started.map((running) => running.stop()))
  for (const result of stopped) if (result.status === 'rejected') throw result.reason
})

/**
 * Stale answers counted from the end of each operation: pm2 reloads in
 * after-activate, so until that hook is done the old release still answers
 * (counted too, as `during the hook`).
 */
function report(label: string, run: LoadRun, seconds: number): { stale: number; failed: number } {
  const stale = staleAnswers(run, 'endedAt')
  const duringHook = staleAnswers(run) - stale
  const failed = failuresOf(run.report)
  console.log(describeLoad(label, run.report))
  console.log(
    `[${label}] ${run.switches} switches; ${run.report.requests} requests, ${failed} failed, ` +
      `${stale} stale after the deploy had ended (${duringHook} more between the switch and the end of after-activate); ${seconds.toFixed(1)} s`
  )
  return { stale, failed }
}

/** Stops pm2 of this run and checks that the app is gone with it. */
async function stopPm2(running: Pm2Server, port: number): Promise<void> {
  await running.stop()
  started.splice(started.indexOf(running), 1)
  expect(await listening(port), `the app still listens on ${port} after pm2 kill`).toBe(false)
}

/**
 * Deploys and rollbacks of both kinds (to the previous good release, and by
 * id), each followed by a pm2 reload of about 4 s: four are enough to show
 * the recipe follows every switch, and keep the test near its minute.
 */
const PM2_PLAN = ['deploy r02', 'deploy r03', 'rollback', 'rollback to r03']

describe('a Node app under pm2 (cluster mode), configured by docs/recipes/node-pm2-systemd.md', () => {
  it(
    'serves the new release after each deploy and rollback, with no failed request during the reloads',
    async () => {
      const t0 = Date.now()
      const running = await startPm2Server()
      const root = deployRoot(running.server, 'app')
      const port = await freePort()
      const site: Site = {
        root,
        port,
        pages: PAGES,
        files: (id) => files(id, root, port),
        inputs: { 'after-activate': recipeBlock(RECIPE, 'after-activate') },
        keepAlive: false,
        loadMaxMs: STACK_LOAD_MAX_MS
      }
      const run = await deployUnderLoad('pm2 recipe', running.server, site, { plan: PM2_PLAN })
      const described = running.pm2('jlist')
      const { stale, failed } = report('pm2 recipe', run, (Date.now() - t0) / 1000)
      expect(run.report.samples, describeLoad('pm2 recipe', run.report)).toEqual([])
      expect(failed).toBe(0)
      expect(run.timeline.map((s) => s.servedAfter)).toEqual(run.timeline.map((s) => s.id))
      expect(run.servedAtEnd).toBe(run.timeline[run.timeline.length - 1].id)
      expect(run.report.stoppedBy, `the load reached its hang guard (${STACK_LOAD_MAX_MS / 1000} s)`).toBe('caller')
      expect(run.switches).toBe(PM2_PLAN.length)
      expect(run.report.requests).toBeGreaterThan(1000)
      // It was pm2's cluster mode with two workers that served them.
      const apps = JSON.parse(described) as { name: string; pm2_env: { exec_mode: string; status: string } }[]
      expect(apps.map((a) => [a.name, a.pm2_env.exec_mode, a.pm2_env.status])).toEqual([
        ['app', 'cluster_mode', 'online'],
        ['app', 'cluster_mode', 'online']
      ])
      expect(stale).toBe(0)
      await stopPm2(running, port)
    },
    STACK_LOAD_MAX_MS + 120_000
  )

  it(
    'control: pm2 started in current (the resolved release path) keeps serving the first release',
    async () => {
      const t0 = Date.now()
      const running = await startPm2Server()
      const root = deployRoot(running.server, 'app')
      const port = await freePort()
      const naive = ['cd "$DEPLOY_PATH/current"', `if pm2 describe app >/dev/null 2>&1; then pm2 reload app; else PORT=${port} pm2 start dist/server.js --name app -i 2; fi`].join(
        '\n'
      )
      const site: Site = { root, port, pages: PAGES, files: (id) => files(id, root, port), inputs: { 'after-activate': naive }, keepAlive: false, loadMaxMs: STACK_LOAD_MAX_MS }
      const run = await deployUnderLoad('pm2 control', running.server, site, { plan: ['deploy r02', 'deploy r03'] })
      const { stale, failed } = report('pm2 control', run, (Date.now() - t0) / 1000)
      expect(failed).toBe(0)
      expect(run.timeline.map((s) => s.servedAfter)).toEqual(['r01', 'r01', 'r01'])
      expect(stale, 'the checker must see the old release served after the deploy').toBeGreaterThan(0)
      await stopPm2(running, port)
    },
    STACK_LOAD_MAX_MS + 120_000
  )
})
