/**
 * `atomic-deploy pack`, run from the committed CLI bundle on a runner whose
 * tar is GNU tar or bsdtar (as the Windows job of .github/workflows/field.yml
 * runs it): the file lists, with that same tar, exactly the control members
 * and the workspace, and unpacks to the workspace.
 */
import { execFileSync, spawn } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { makeWorkspace } from './run-action'
import { treeSnapshot } from '../support/tree'
import { RUNNER_TARS, runnerPath } from '../support/runner-tools'

const CLI = path.resolve(__dirname, '../../dist/cli/index.js')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-pack-e2e-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { HOME: tmp, ...env }, cwd: tmp })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

// The control folder's name is random per run: its 16 hex digits are shown as *.
const CONTROL = ['.atomic-deploy-control-*', '.atomic-deploy-control-*/remove', '.atomic-deploy-control-*/drop', '.atomic-deploy-control-*/add']
const withControlShown = (name: string): string => name.replace(/^\.atomic-deploy-control-[0-9a-f]{16}(?=\/|$)/, '.atomic-deploy-control-*')

describe.each(RUNNER_TARS)('atomic-deploy pack with %s as tar', (tar) => {
  const env = (): Record<string, string> => ({ PATH: runnerPath(tar, { zstd: true, under: tmp }) })

  it.each(['none', 'gzip', 'zstd'])('writes a file of exactly the control members and the workspace, compression %s', async (compression) => {
    const ws = makeWorkspace({ 'index.html': 'one', 'css/site.css': 'body{}', '-dash.txt': 'dash', 'sp ace/a b.txt': 'u', '.git/HEAD': 'ref', 'app.log': 'log' })
    const file = path.join(tmp, `${tar}-${compression}.upload`)
    const runner = env()
    const run = await cli(['pack', '--source', ws, '--output', file, '--compression', compression, '--exclude', '.git', '--exclude', '*.log'], runner)
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain(`full upload: there is no upload cache yet (6 entries, 14 B), compression ${compression}`)
    // Listed and unpacked by the runner's own tar, which reads each compression by itself.
    const names = execFileSync('tar', ['-tf', file], { env: runner, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((name) => withControlShown(name.replace(/\/$/, '')))
    expect(names).toEqual([...CONTROL, './-dash.txt', './css', './css/site.css', './index.html', './sp ace', './sp ace/a b.txt'])
    const out = fs.mkdtempSync(path.join(tmp, 'out-'))
    execFileSync('tar', ['-xf', file, '-C', out], { env: runner })
    for (const name of fs.readdirSync(out).filter((entry) => withControlShown(entry) === '.atomic-deploy-control-*')) {
      fs.rmSync(path.join(out, name), { recursive: true })
    }
    fs.rmSync(path.join(ws, '.git'), { recursive: true })
    fs.rmSync(path.join(ws, 'app.log'))
    expect(treeSnapshot(out)).toEqual(treeSnapshot(ws))
  })

  it('with --incremental false holds the workspace alone', async () => {
    const ws = makeWorkspace({ 'index.html': 'one' })
    const file = path.join(tmp, `${tar}-plain.tar`)
    const runner = env()
    const run = await cli(['pack', '--source', ws, '--output', file, '--compression', 'none', '--incremental', 'false'], runner)
    expect(run.code, run.stderr).toBe(0)
    expect(execFileSync('tar', ['-tf', file], { env: runner, encoding: 'utf8' })).toBe('./index.html\n')
  })
})

describe('atomic-deploy pack input checks', () => {
  const env = { PATH: process.env.PATH! }
  it.each([
    [['pack'], "pack needs --output <file>, the file to write the upload to. See 'atomic-deploy pack --help'."],
    [['pack', '--output', 'x', '--source', 'missing'], `Invalid input 'source': folder "missing" does not exist in ${tmp}.`],
    [['pack', '--output', 'x', '--compression', 'lz4'], `Invalid input 'compression': "lz4" is not one of auto, gzip, zstd, none.`],
    [['pack', '--output', 'x', '--compression', 'gzip', '--compression-level', '12'], "Invalid input 'compression-level': 12 is above gzip's highest level, 9."],
    [['pack', '--output', 'x', '--host', 'web1'], "Unknown option '--host'. See 'atomic-deploy pack --help'."]
  ])('%j fails with status 2 and says why, writing no file', async (args, message) => {
    const run = await cli(args, env)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(`atomic-deploy: ${message}`)
    expect(fs.existsSync(path.join(tmp, 'x'))).toBe(false)
  })

  it('prints its help, and the tool help lists it', async () => {
    const help = await cli(['pack', '--help'], env)
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: atomic-deploy pack --output <file> [options]')
    for (const flag of ['--source', '--exclude', '--compression', '--compression-level', '--incremental']) expect(help.stdout).toContain(`  ${flag} <value>`)
    expect((await cli(['--help'], env)).stdout).toContain('  pack      Write the upload a deploy sends to a file')
  })
})
