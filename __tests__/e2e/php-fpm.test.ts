/**
 * The PHP stack of docs/recipes/php-fpm-opcache.md, proven: nginx and PHP-FPM
 * with production OPcache (timestamps never checked) serve a PHP app from
 * current/public while the committed bundle deploys and rolls back under the
 * bounded load. The nginx block, the pool and the OPcache settings are read
 * from the recipe. No request may fail, every answer sent after a logged
 * switch must come from the new release, and FPM's workers must be the same
 * processes at the end (nothing reloaded PHP). A control with the recipe's
 * key setting undone ($document_root for $realpath_root) must see stale
 * answers, so the checker can fail.
 */
import * as os from 'os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, deployRoot, startSshd } from './sshd-harness'
import { TestNginx, findNginx, startNginx } from './nginx-harness'
import { TestPhpFpm, findPhpFpm, startPhpFpm } from './php-fpm-harness'
import { LOAD_MAX_MS, describeLoad, failuresOf, fetchOnce } from '../support/load'
import { fillIn, recipeBlock } from '../support/recipe'
import { LoadRun, PLAN, Site, deployUnderLoad, staleAnswers } from './under-load'

const RECIPE = 'php-fpm-opcache.md'
const RECIPE_ROOT = '/var/www/app'
const RECIPE_SOCKET = '/run/php/app.sock'

/** The release id comes from code: a constant in a PHP file of the release, included by the page. */
const files = (id: string): Record<string, string> => ({
  'release.php': `<?php\nconst RELEASE = '${id}';\n`,
  'public/index.php': "<?php\nrequire __DIR__ . '/../release.php';\nheader('Content-Type: text/plain');\necho 'release ', RELEASE, \"\\n\";\n",
  // What the pool runs with, as PHP-FPM sees it.
  'public/opcache.php':
    "<?php\n$s = opcache_get_status(false);\necho json_encode(['enabled' => $s['opcache_enabled'] ?? false, 'validate_timestamps' => ini_get('opcache.validate_timestamps'), 'cached' => $s['opcache_statistics']['num_cached_scripts'] ?? 0]);\n"
})
const PAGES = { '/index.php': /^release (r\d\d)\n$/, '/': /^release (r\d\d)\n$/ }

// Missing tools fail the file at once (never skip it), with the line that installs them.
findNginx()
findPhpFpm()

let server: TestServer | undefined
let fpm: TestPhpFpm | undefined
const nginxes: TestNginx[] = []

beforeAll(async () => {
  server = await startSshd()
  const user = os.userInfo().username
  fpm = await startPhpFpm((socket) => fillIn(recipeBlock(RECIPE, 'pool'), { [RECIPE_SOCKET]: socket, 'www-data': user }), recipeBlock(RECIPE, 'opcache'))
})

afterAll(async () => {
  for (const nginx of nginxes) await nginx.stop()
  await fpm?.stop()
  await server?.stop()
})

/** nginx with the recipe's server block for the deploy root `root`, `$realpath_root` replaced by `realpath` in the control. */
async function nginxFor(root: string, realpath = '$realpath_root'): Promise<TestNginx> {
  const block = fillIn(recipeBlock(RECIPE, 'nginx'), { [RECIPE_ROOT]: root, [RECIPE_SOCKET]: fpm!.socket, $realpath_root: realpath })
  const nginx = await startNginx(root, (port) => fillIn(block, { 'listen 80;': `listen 127.0.0.1:${port};` }))
  nginxes.push(nginx)
  return nginx
}

function report(label: string, run: LoadRun, seconds: number): { stale: number; failed: number } {
  const stale = staleAnswers(run)
  const failed = failuresOf(run.report)
  console.log(describeLoad(label, run.report))
  console.log(`[${label}] ${run.switches} switches; ${run.report.requests} requests, ${failed} failed, ${stale} stale; ${seconds.toFixed(1)} s`)
  return { stale, failed }
}

describe('PHP-FPM with OPcache (validate_timestamps=0) behind nginx, configured by docs/recipes/php-fpm-opcache.md', () => {
  it(
    'serves the new release from the first request after each logged switch, with no failed request and no FPM reload',
    async () => {
      const started = Date.now()
      const root = deployRoot(server!, 'recipe')
      const nginx = await nginxFor(root)
      const workersBefore = fpm!.workers()
      expect(workersBefore.length, fpm!.log()).toBeGreaterThan(0)
      const site: Site = { root, port: nginx.port, pages: PAGES, files }
      const run = await deployUnderLoad('php recipe', server!, site)
      const { stale, failed } = report('php recipe', run, (Date.now() - started) / 1000)
      expect(run.report.samples, describeLoad('php recipe', run.report)).toEqual([])
      expect(failed).toBe(0)
      expect(stale).toBe(0)
      expect(run.report.stoppedBy, `the load reached its hang guard (${LOAD_MAX_MS / 1000} s)`).toBe('caller')
      expect(run.switches).toBe(PLAN.length)
      expect(run.report.requests).toBeGreaterThan(1000)
      expect(run.timeline.map((s) => s.servedAfter)).toEqual(run.timeline.map((s) => s.id))
      expect(run.servedAtEnd).toBe(run.timeline[run.timeline.length - 1].id)
      // OPcache was on, never checking timestamps, in the pool that served them; nothing restarted a worker.
      const status = (await fetchOnce(nginx.port, '/opcache.php')).replace(/^200 /, '')
      console.log(`[php recipe] OPcache: ${status}; FPM workers ${workersBefore.join(' ')}`)
      expect(JSON.parse(status)).toMatchObject({ enabled: true, validate_timestamps: '0' })
      expect(fpm!.workers()).toEqual(workersBefore)
    },
    LOAD_MAX_MS + 120_000
  )

  it(
    'control: with $document_root instead of $realpath_root, answers after the switch come from the old release',
    async () => {
      const started = Date.now()
      const root = deployRoot(server!, 'control')
      const nginx = await nginxFor(root, '$document_root')
      const site: Site = { root, port: nginx.port, pages: PAGES, files }
      const run = await deployUnderLoad('php control', server!, site, { plan: ['deploy r02', 'deploy r03'] })
      const { stale, failed } = report('php control', run, (Date.now() - started) / 1000)
      expect(failed).toBe(0)
      expect(stale, 'the checker must see the old release served after the switch').toBeGreaterThan(0)
    },
    LOAD_MAX_MS + 120_000
  )
})
