/**
 * The action run by the Actions team's local runner (@github/local-action),
 * from its TypeScript sources, against the test sshd.
 */
import { spawnSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { makeWorkspace } from './run-action'

const REPO = path.resolve(__dirname, '../..')
let server: TestServer
beforeAll(async () => {
  server = await startSshd()
})
afterAll(async () => {
  await server?.stop()
})

/** A dotenv line; multi-line values go in double quotes with \n, as dotenv reads them. */
const line = (name: string, value: string): string => `INPUT_${name.toUpperCase()}="${value.trim().replace(/\n/g, '\\n')}"`

describe('@github/local-action', () => {
  it('runs the action from src/action/main.ts and deploys', () => {
    const root = path.join(server.root, 'local-action')
    const envFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-la-')), '.env')
    fs.writeFileSync(
      envFile,
      [
        line('host', `127.0.0.1:${server.port}`),
        line('username', server.username),
        line('ssh-key', server.userKey),
        line('known-hosts', server.knownHosts),
        line('path', root),
        line('source', makeWorkspace({ 'index.html': 'from local-action' })),
        line('release-id', 'la1')
      ].join('\n') + '\n'
    )
    const run = spawnSync(path.join(REPO, 'node_modules/.bin/local-action'), ['run', REPO, 'src/action/main.ts', envFile], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 90_000
    })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    expect(run.stdout).toContain('::set-output name=release-id::la1')
    expect(run.stdout).not.toContain('::error::')
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('releases/la1')
    expect(fs.readFileSync(path.join(root, 'current/index.html'), 'utf8')).toBe('from local-action')
  })
})
