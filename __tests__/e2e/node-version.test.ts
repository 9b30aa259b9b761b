/**
 * Which Node runs the bundle in these tests: the test command reruns the
 * deploy, rollback and fleet tests under Node 24 (what GitHub runs actions
 * on), and this proves that rerun really used it.
 */
import { execFileSync } from 'child_process'
import * as fs from 'fs'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { RUNNER_NODE, connectionInputs, makeWorkspace, runAction } from './run-action'

let server: TestServer

beforeAll(async () => {
  server = await startSshd()
})

afterAll(async () => {
  await server?.stop()
})

describe('the Node that runs the bundle', () => {
  it('is the one the test command chose, and the deploy says so in its log', async () => {
    const version = execFileSync(RUNNER_NODE, ['--version'], { encoding: 'utf8' }).trim()
    const wanted = process.env.ATOMIC_DEPLOY_EXPECT_NODE_MAJOR
    if (wanted) expect(version.split('.')[0]).toBe(`v${wanted}`)
    const source = makeWorkspace({ 'index.html': version })
    const root = path.join(server.root, 'node-version')
    const run = await runAction({ ...connectionInputs(server), path: root, source, 'release-id': 'r1' })
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(run.stdout).toContain(`atomic-deploy on Node ${version} (`)
    expect(fs.readFileSync(path.join(root, 'current/index.html'), 'utf8')).toBe(version)
    fs.rmSync(source, { recursive: true, force: true })
  })
})
