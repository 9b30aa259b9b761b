/**
 * `pack` writes what a deploy sends: the deploy's own upload path
 * (uploadAndPrepare against a server that has every tool and no cache yet)
 * is recorded byte for byte and compared with the file, for each runner tar
 * and each compression.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Readable } from 'stream'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { testDeployPlan } from '../support/deploy-plan'
import { uploadAndPrepare } from '../../src/core/prepare'
import { packToFile } from '../../src/core/pack'
import { readSource } from '../../src/core/source'
import { consoleReporter } from '../../src/core/reporter'
import { DeployPlan } from '../../src/remote/plan'
import { phaseOf } from '../../src/remote/scripts'
import { RunOptions, ScriptRunner } from '../../src/ssh/connection'
import { ScriptResult } from '../../src/ssh/protocol'
import { UploadSettings } from '../../src/config/settings'
import { RUNNER_TARS, runnerPath } from '../support/runner-tools'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-pack-'))
const savedPath = process.env.PATH
afterEach(() => {
  process.env.PATH = savedPath
  vi.useRealTimers()
})
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** A server with every tool and no upload cache, that keeps the bytes the prepare script was sent. */
function recordingServer(): ScriptRunner & { received: () => Buffer } {
  const chunks: Buffer[] = []
  return {
    received: () => Buffer.concat(chunks),
    async run(script: string, options: RunOptions = {}): Promise<ScriptResult> {
      if (phaseOf(script) === 'inspect') {
        const stdout = '@@has zstd\n@@has gzip\n@@has sha256sum\n@@cache-miss there is no upload cache yet\n'
        return { code: 0, results: [...stdout.matchAll(/^@@(\S+) (.*)$/gm)].map((m) => [m[1], m[2]]), stdout, stderr: '' }
      }
      for await (const chunk of options.stdin as Readable) chunks.push(chunk as Buffer)
      return { code: 0, results: [], stdout: '', stderr: '' }
    }
  }
}

const deployPlan: DeployPlan = testDeployPlan('/srv/app', {
  keep: 3,
  lockToken: 'token',
  lockOwner: '{"token":"token"}',
  controlFolder: '.atomic-deploy-control-0123456789abcdef'
})

function workspace(): string {
  const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
  for (const [name, content] of Object.entries({ 'index.html': 'one', 'css/site.css': 'body{}', '-dash.txt': 'dash', 'sp ace/ünï.txt': 'u', '.git/HEAD': 'x' })) {
    fs.mkdirSync(path.dirname(path.join(ws, name)), { recursive: true })
    fs.writeFileSync(path.join(ws, name), content)
  }
  fs.symlinkSync('index.html', path.join(ws, 'home.html'))
  return ws
}

const quiet = consoleReporter(() => undefined)

describe.each(RUNNER_TARS)('pack with %s as tar', (tar) => {
  it.each([
    ['none', true],
    ['gzip', true],
    ['zstd', true],
    ['auto', false],
    ['auto', true]
  ] as const)('writes the bytes a first deploy sends, compression %s, incremental %s', async (compression, incremental) => {
    process.env.PATH = runnerPath(tar, { zstd: true, under: tmp })
    // The control members carry the time they are made; both streams are made in the same faked second.
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2026-01-02T03:04:05Z'))
    const ws = workspace()
    const settings: UploadSettings = { sourceDir: ws, exclude: ['.git'], compression, compressionLevel: undefined, incremental, allowEmpty: false }
    const server = recordingServer()
    const prepared = await uploadAndPrepare(server, deployPlan, readSource(settings, quiet).ready, () => undefined, compression)
    const file = path.join(tmp, `${tar}-${compression}-${incremental}.upload`)
    const packed = await packToFile(settings, file, quiet, deployPlan.controlFolder)
    // Not two empty streams: a deploy always sends at least the tar end blocks.
    expect(server.received().length).toBeGreaterThan(0)
    expect(fs.readFileSync(file).equals(server.received())).toBe(true)
    expect(packed.compression).toBe(prepared.plan.compression)
    expect(packed.compression).toBe(compression === 'auto' ? 'zstd' : compression)
    expect(packed.bytes).toBe(server.received().length)
  })
})
