/**
 * The runners users have: GNU tar (Linux) or bsdtar (macOS, Windows) as
 * `tar`, with or without zstd. Each deploys twice through dist/index.js (a
 * full upload, then an incremental one) and the server must hold exactly
 * the workspace each time: a run that exits 0 with nothing deployed fails.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { connectionInputs, makeWorkspace, runAction } from './run-action'
import { RUNNER_TARS, runnerPath } from '../support/runner-tools'

let server: TestServer
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-runners-'))

beforeAll(async () => {
  server = await startSshd()
})

afterAll(async () => {
  await server?.stop()
  fs.rmSync(tmp, { recursive: true, force: true })
})

/** Every entry under a folder: files with their content, links with their target, folders with a slash. */
function treeOf(dir: string, prefix = ''): Record<string, string> {
  const tree: Record<string, string> = {}
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = `${prefix}${entry.name}`
    const full = path.join(dir, entry.name)
    if (entry.isSymbolicLink()) tree[rel] = `-> ${fs.readlinkSync(full)}`
    else if (entry.isDirectory()) Object.assign(tree, { [`${rel}/`]: '' }, treeOf(full, `${rel}/`))
    else tree[rel] = fs.readFileSync(full, 'utf8')
  }
  return tree
}

describe.concurrent.each(RUNNER_TARS.flatMap((tar) => [true, false].map((zstd) => ({ tar, zstd }))))('a runner with $tar as tar, zstd: $zstd', ({ tar, zstd }) => {
  it('deploys in full, then incrementally; the server holds the workspace each time', async ({ expect: e }) => {
    const root = path.join(server.root, `${tar}-${zstd ? 'zstd' : 'nozstd'}`)
    const env = { PATH: runnerPath(tar, { zstd, under: tmp }) }
    const first = makeWorkspace({ 'index.html': 'one', 'css/site.css': 'body{}', '-dash.txt': 'dash', 'sp ace/ünï.txt': 'u' })
    fs.symlinkSync('index.html', path.join(first, 'home.html'))
    const run1 = await runAction({ ...connectionInputs(server), path: root, source: first, 'release-id': 'r1', 'revision-file': 'false' }, { env })
    e(run1.code, run1.stdout + run1.stderr).toBe(0)
    e(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/r1')
    e(treeOf(path.join(root, 'current'))).toEqual(treeOf(first))
    e(run1.summary).toContain(zstd ? '(zstd)' : '(gzip)')

    const second = makeWorkspace({ 'index.html': 'two', '-dash.txt': 'dash', 'sp ace/ünï.txt': 'u', 'new.txt': 'new' })
    const run2 = await runAction({ ...connectionInputs(server), path: root, source: second, 'release-id': 'r2', 'revision-file': 'false' }, { env })
    e(run2.code, run2.stdout + run2.stderr).toBe(0)
    e(run2.stdout).toContain('incremental upload: 2 new or changed')
    e(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/r2')
    e(treeOf(path.join(root, 'current'))).toEqual(treeOf(second))
    for (const dir of [first, second]) fs.rmSync(dir, { recursive: true, force: true })
  })
})
