/**
 * The inspect round trip (the server's tools and upload cache) needs the
 * listing, not the manifest: it goes out as soon as a host is connected,
 * while the workspace is still being hashed, and the upload is planned once
 * both are in. A hashing that fails stops the deploy before anything is
 * prepared, once the inspect is over.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseSettings } from '../../src/config/inputs'
import { deployFleet } from '../../src/core/fleet'
import { consoleReporter } from '../../src/core/reporter'
import { UploadSource } from '../../src/core/prepare'
import { SourceReading, readSource } from '../../src/core/source'
import { phaseOf } from '../../src/remote/scripts'
import { Connection, RunOptions } from '../../src/ssh/connection'
import { ScriptResult } from '../../src/ssh/protocol'

const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-inspect-hashing-'))
fs.writeFileSync(path.join(ws, 'index.html'), 'r2')
afterAll(() => fs.rmSync(ws, { recursive: true, force: true }))

const inputs: Record<string, string> = { host: 'web1', username: 'deploy', password: 'pw', path: '/srv/app', source: ws, 'release-id': 'r2' }
const settings = parseSettings((name) => inputs[name] ?? '', { GITHUB_WORKSPACE: ws })

/** Records, in order, each script it is sent and each moment the test marks; answers as a server without an upload cache. */
class OneHost implements Connection {
  readonly name = 'deploy@web1'
  readonly events: string[] = []
  private inspected!: () => void
  readonly inspectArrived = new Promise<void>((resolve) => (this.inspected = resolve))
  async run(script: string, options: RunOptions = {}): Promise<ScriptResult> {
    const phase = phaseOf(script) ?? 'unknown'
    this.events.push(phase)
    if (phase === 'inspect') this.inspected()
    if (options.stdin) for await (const _chunk of options.stdin) void _chunk
    const results: Array<[string, string]> =
      phase === 'inspect'
        ? [
            ['has', 'sha256sum'],
            ['cache-miss', 'there is no upload cache yet']
          ]
        : [['previous', 'r1']]
    return { code: 0, results, stdout: '', stderr: '' }
  }
  close(): void {}
}

/** The workspace's real reading, its hashing held back until the host has been sent the inspect (or, as a hang guard, 10 s). */
function heldBack(host: OneHost, outcome: 'hashed' | 'failed'): SourceReading {
  const reading = readSource(
    settings,
    consoleReporter(() => undefined)
  )
  const guard = new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref())
  const ready = Promise.race([host.inspectArrived, guard]).then(async (): Promise<UploadSource> => {
    host.events.push(outcome === 'hashed' ? 'hashing done' : 'hashing failed')
    if (outcome === 'failed') throw new Error(`${path.join(ws, 'index.html')} vanished while it was hashed`)
    return reading.ready
  })
  return { listing: reading.listing, ready }
}

describe('the inspect beside the hashing', () => {
  it('is sent before the hashing is done; the upload is planned after both', async () => {
    const host = new OneHost()
    const outcome = await deployFleet(
      [host],
      settings,
      consoleReporter(() => undefined),
      heldBack(host, 'hashed')
    )
    expect(outcome.results.map((r) => r.status)).toEqual(['deployed'])
    expect(host.events).toEqual(['inspect', 'hashing done', 'prepare', 'switch-and-finish'])
  })

  it('a hashing that fails stops the deploy once the inspect is over, before anything is prepared', async () => {
    const host = new OneHost()
    const deploy = deployFleet(
      [host],
      settings,
      consoleReporter(() => undefined),
      heldBack(host, 'failed')
    )
    await expect(deploy).rejects.toThrow('vanished while it was hashed')
    expect(host.events.slice(0, 2)).toEqual(['inspect', 'hashing failed'])
    expect(host.events).not.toContain('prepare')
  })
})
