/**
 * A deploy whose source holds no file once exclude applies, or a name that is
 * not UTF-8, is refused before any connection is made, naming the input and
 * the fix; allow-empty lets an empty one go.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { describe, expect, it } from 'vitest'
import { parseSettings } from '../../src/config/inputs'
import { consoleReporter } from '../../src/core/reporter'
import { runMode } from '../../src/core/run-mode'
import { readSource } from '../../src/core/source'
import { Connector } from '../../src/ssh/connection'

function workspace(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-source-'))
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), content)
  }
  return dir
}

function settingsFor(ws: string, inputs: Record<string, string> = {}) {
  const all: Record<string, string> = { host: 'web1', username: 'deploy', password: 'pw', path: '/srv/app', source: ws, 'release-id': 'r1', ...inputs }
  return parseSettings((name) => all[name] ?? '', { GITHUB_WORKSPACE: ws })
}

describe('a source with no file to upload', () => {
  it.each([
    ['an empty folder', {}, {}, "Invalid input 'source'"],
    ['only .git and empty folders', { '.git/config': 'token', 'empty/.keep-me-not': '' }, { exclude: 'empty/*' }, "Invalid input 'exclude'"],
    ['exclude leaving nothing', { 'a.log': 'x', 'logs/keep.log': 'x' }, { exclude: '*.log\nlogs/\n!keep.log' }, "Invalid input 'exclude'"]
  ])('%s is refused before connecting, naming the input and allow-empty', async (_name, files, inputs, input) => {
    const ws = workspace(files)
    const connects: string[] = []
    const connect: Connector = (_settings, target) => {
      connects.push(target.host)
      return Promise.reject(new Error('no connection in this test'))
    }
    const lines: string[] = []
    await expect(
      runMode(
        settingsFor(ws, inputs),
        consoleReporter((line) => lines.push(line)),
        connect
      )
    ).rejects.toThrow(input)
    await expect(
      runMode(
        settingsFor(ws, inputs),
        consoleReporter((line) => lines.push(line)),
        connect
      )
    ).rejects.toThrow('allow-empty: true')
    expect(connects).toEqual([])
  })

  it('names what exclude left out', () => {
    const ws = workspace({ 'a.log': 'x', 'logs/b.txt': 'x', '.git/HEAD': 'x' })
    expect(() =>
      readSource(
        settingsFor(ws, { exclude: '*.log\nlogs/' }),
        consoleReporter(() => undefined)
      )
    ).toThrow('(left out: a.log, logs)')
  })

  it('goes ahead with allow-empty, or when one file is left', () => {
    const reporter = consoleReporter(() => undefined)
    const empty = readSource(settingsFor(workspace({ 'a.log': 'x' }), { exclude: '*.log', 'allow-empty': 'true' }), reporter)
    expect(empty.listing.entries).toEqual([])
    const one = readSource(settingsFor(workspace({ 'a.log': 'x', 'keep.log': 'x' }), { exclude: '*.log\n!keep.log' }), reporter)
    expect(one.listing.entries.map((entry) => entry.path)).toEqual(['keep.log'])
  })
})

describe('a name that is not UTF-8', () => {
  it('is refused before connecting, escaped, with the exclude line that leaves it out', async () => {
    const ws = workspace({ 'index.html': '1' })
    fs.writeFileSync(Buffer.concat([Buffer.from(`${ws}/`), Buffer.from('caf\xe9.txt', 'latin1')]), 'x')
    const connects: string[] = []
    const connect: Connector = (_settings, target) => {
      connects.push(target.host)
      return Promise.reject(new Error('no connection in this test'))
    }
    const run = runMode(
      settingsFor(ws),
      consoleReporter(() => undefined),
      connect
    )
    await expect(run).rejects.toThrow(`Invalid input 'source': names in ${ws} that are not valid UTF-8 cannot be uploaded (bad bytes shown as \\xNN): "caf\\xe9.txt".`)
    await expect(run).rejects.toThrow('where * matches the bad bytes: caf*.txt')
    expect(connects).toEqual([])
    const excluded = readSource(
      settingsFor(ws, { exclude: 'caf*.txt' }),
      consoleReporter(() => undefined)
    )
    expect(excluded.listing.entries.map((entry) => entry.path)).toEqual(['index.html'])
  })
})
