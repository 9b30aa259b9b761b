/**
 * One host, no after-activate: the switch and the prune share one script.
 * When that script is cut short in its prune, after it reported the switch,
 * the deploy stands (pruning is cleanup): no switch back, a warning, and one
 * more try at pruning and unlocking, over a new connection (the script ended
 * without an exit status, so the runner first checks the host again).
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { describe, expect, it } from 'vitest'
import { parseSettings } from '../../src/config/inputs'
import { deployFleet } from '../../src/core/fleet'
import { consoleReporter } from '../../src/core/reporter'
import { readSource } from '../../src/core/source'
import { phaseOf } from '../../src/remote/scripts'
import { Connection, RunOptions } from '../../src/ssh/connection'
import { ScriptResult } from '../../src/ssh/protocol'

/** Answers each phase as the server would, and records what it was sent. */
class OneHost implements Connection {
  readonly name = 'deploy@web1'
  readonly phases: string[] = []
  constructor(private readonly answers: Record<string, Partial<ScriptResult>>) {}
  async run(script: string, options: RunOptions = {}): Promise<ScriptResult> {
    const phase = phaseOf(script) ?? 'unknown'
    this.phases.push(phase)
    // Drain the upload, as the server's tar would.
    if (options.stdin) for await (const _chunk of options.stdin) void _chunk
    const answer = this.answers[phase]
    if (!answer) throw new Error(`no answer for ${phase}`)
    return { code: 0, results: [], stdout: '', stderr: '', ...answer }
  }
  close(): void {}
}

describe('a one-step switch cut short in its prune', () => {
  it('stands as deployed: no revert, a warning, and the finish tried again', async () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-onestep-'))
    fs.writeFileSync(path.join(ws, 'index.html'), 'r2')
    const inputs: Record<string, string> = { host: 'web1', username: 'deploy', password: 'pw', path: '/srv/app', source: ws, 'release-id': 'r2', incremental: 'false' }
    const settings = parseSettings((name) => inputs[name] ?? '', { GITHUB_WORKSPACE: ws })
    const lines: string[] = []
    const reporter = consoleReporter((line) => lines.push(line))
    const host = new OneHost({
      inspect: { results: [['cache-miss', 'there is no upload cache yet']] },
      prepare: { results: [['previous', 'r1']] },
      'switch-and-finish': {
        code: null,
        results: [
          ['previous', 'r1'],
          ['step', 'switch'],
          ['switched', 'r2'],
          ['current', 'r2'],
          ['step', 'prune']
        ]
      },
      recover: {
        results: [
          ['lock', 'held'],
          ['switched', 'r2'],
          ['current', 'r2']
        ]
      },
      finish: {
        results: [
          ['step', 'prune'],
          ['pruned', 'r0']
        ]
      }
    })
    try {
      // The new connection is to the same (fake) server.
      const outcome = await deployFleet([host], settings, reporter, readSource(settings, reporter), () => Promise.resolve(host))
      expect(outcome.results.map((r) => [r.status, r.releaseId, r.previousReleaseId])).toEqual([['deployed', 'r2', 'r1']])
      expect(host.phases).toEqual(['inspect', 'prepare', 'switch-and-finish', 'recover', 'finish'])
      expect(outcome.pruned).toEqual(['r0'])
      expect(lines.some((line) => /during step prune.*The release is live/.test(line))).toBe(true)
    } finally {
      fs.rmSync(ws, { recursive: true, force: true })
    }
  })
})
