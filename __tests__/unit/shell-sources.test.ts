/**
 * The server script's sources (src/remote/sh) and how they reach the server:
 * embedded at build time, assembled per phase with only the values generated,
 * and declaring their exit codes as src/remote/exit-codes.ts does.
 */
import { execFileSync, spawnSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { describe, expect, it } from 'vitest'
import { testDeployPlan } from '../support/deploy-plan'
import { SHELL_SOURCES } from '../../src/remote/shell-sources.generated'
import { PHASES, assemble, listScript, phaseOf, prepareScript } from '../../src/remote/scripts'
import { EXIT } from '../../src/remote/exit-codes'
import { DeployPlan } from '../../src/remote/plan'

const SH = path.join(__dirname, '..', '..', 'src', 'remote', 'sh')
const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? filesUnder(full) : entry.name.endsWith('.sh') ? [path.relative(SH, full)] : []
  })
}

const plan: DeployPlan = testDeployPlan('/srv/it\'s "odd" $(touch canary)', {
  keep: 2,
  shared: [
    { path: 'storage', isDirectory: true },
    { path: 'config/.env', isDirectory: false }
  ],
  beforeActivate: 'echo "$RELEASE_ID" \'quoted\' `date`',
  logFields: '"actor":"x"'
})

describe('the shell sources', () => {
  it('are embedded as they are on disk (run npm run build after editing src/remote/sh)', () => {
    const onDisk = Object.fromEntries(filesUnder(SH).map((file) => [file.split(path.sep).join('/'), fs.readFileSync(path.join(SH, file), 'utf8')]))
    expect(SHELL_SOURCES).toEqual(onDisk)
    expect(execFileSync('node', [path.join(__dirname, '..', '..', 'scripts', 'embed-shell.js'), '--check']).toString()).toBe('')
  })

  it('have one file per phase, each opening with its header line and an overview, and every library file is used', () => {
    const included = new Set<string>()
    for (const phase of PHASES) {
      const source = SHELL_SOURCES[`${phase}.sh`]
      expect(source, phase).toBeDefined()
      expect(source.split('\n')[1]).toMatch(new RegExp(`^# atomic-deploy ${phase} script: `))
      for (const m of source.matchAll(/\. "\$ATOMIC_DEPLOY_LIB\/(lib\/[\w.-]+)"/g)) included.add(m[1])
    }
    const phaseFiles = Object.keys(SHELL_SOURCES).filter((f) => !f.startsWith('lib/'))
    expect(phaseFiles.sort()).toEqual(PHASES.map((p) => `${p}.sh`).sort())
    expect([...included].sort()).toEqual(
      Object.keys(SHELL_SOURCES)
        .filter((f) => f.startsWith('lib/'))
        .sort()
    )
  })

  it('carry no blanket ShellCheck disables; a disable names one check and gives its reason on the same line', () => {
    for (const [file, source] of Object.entries(SHELL_SOURCES)) {
      const lines = source.split('\n')
      lines.forEach((line, i) => {
        if (!/shellcheck\s+disable/.test(line)) return
        expect(line, `${file}: one check, then # and the reason`).toMatch(/^\s*# shellcheck disable=SC\d+ # \w.{9,}$/)
        expect(i, `${file}: not file-wide`).toBeGreaterThan(0)
      })
    }
  })
})

describe('exit codes', () => {
  it('lib/exit-codes.sh gives every code of EXIT, under its kebab-case name', () => {
    const names = Object.keys(EXIT)
    const script = `. "${path.join(SH, 'lib/exit-codes.sh')}"\n${names.map((n) => `exit_code ${kebab(n)}`).join('\n')}\nexit_code no-such-kind`
    const codes = execFileSync('dash', ['-c', script]).toString().trim().split('\n').map(Number)
    expect(codes).toEqual([...names.map((n) => EXIT[n as keyof typeof EXIT]), 1])
    const declared = [...SHELL_SOURCES['lib/exit-codes.sh'].matchAll(/^ {4}([a-z-]+)\) echo \d+ ;;$/gm)].map((m) => m[1])
    expect(declared.sort()).toEqual(names.map(kebab).sort())
  })

  it('every fail in the sources names a declared kind', () => {
    const kinds = new Set(Object.keys(EXIT).map(kebab))
    for (const [file, source] of Object.entries(SHELL_SOURCES)) {
      for (const m of source.matchAll(/^[^#\n]*\bfail ([^ ;"]+)/gm)) expect(kinds.has(m[1]), `${file}: fail ${m[1]}`).toBe(true)
    }
  })
})

describe('assembly', () => {
  it('inlines the library, names the phase in the header, and generates only quoted value assignments', () => {
    for (const phase of PHASES) {
      const script = assemble(phase, plan, {})
      expect(phaseOf(script)).toBe(phase)
      expect(script.startsWith('#!/bin/sh\n# atomic-deploy ')).toBe(true)
      expect(script).not.toContain('$ATOMIC_DEPLOY_LIB')
      expect(script).toContain('# ---- lib/output.sh')
    }
    const script = prepareScript(plan)
    const block = script.slice(script.indexOf('# ---- values'), script.indexOf('\nset -eu\n')).replace(/^#.*\n/, '')
    // Without its quoted words, the generated block is nothing but NAME= lines.
    const bare = block
      .replace(/'[^']*'(?:\\''[^']*')*/g, '')
      .trim()
      .split('\n')
    for (const line of bare) expect(line).toMatch(/^[A-Z_]+=$/)
    const read = execFileSync('sh', ['-c', `${block}\nprintf '%s|%s|%s' "$SHARED_ENTRIES" "$DEPLOY_PATH" "$HOOK_BEFORE_ACTIVATE"`]).toString()
    expect(read).toBe(`storage/\nconfig/.env|${plan.deployPath}|${plan.beforeActivate}`)
  })

  it('a phase runs by hand from the sources, with ATOMIC_DEPLOY_LIB set and the values exported, as it runs assembled', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-by-hand-'))
    fs.mkdirSync(path.join(root, 'releases/A'), { recursive: true })
    fs.mkdirSync(path.join(root, '.atomic-deploy'))
    fs.writeFileSync(path.join(root, '.atomic-deploy/releases.log'), '{"event":"deployed","id":"A","time":"t"}\n')
    fs.symlinkSync('releases/A', path.join(root, 'current'))
    const p = { ...plan, deployPath: root }
    const env = {
      PATH: process.env.PATH!,
      ATOMIC_DEPLOY_LIB: SH,
      DEPLOY_PATH: root,
      RELEASE_ID: 'r1',
      DEPLOY_MODE: 'deploy',
      LOCK_TOKEN: p.lockToken,
      LOCK_OWNER: p.lockOwner,
      LOG_FIELDS: p.logFields,
      KEEP: '2',
      NEW_RELEASE_ID: 'B'
    }
    const byHand = spawnSync('sh', [path.join(SH, 'list.sh')], { env })
    expect(byHand.stderr.toString()).toContain('-----> Reading releases and the releases log')
    const assembled = spawnSync('sh', ['-c', listScript({ ...p, newReleaseId: 'B' })], { env: { PATH: process.env.PATH! } })
    expect(byHand.status).toBe(0)
    expect(byHand.stdout.toString()).toBe(assembled.stdout.toString())
    expect(byHand.stdout.toString()).toContain('@@would-prune \n')
  })
})
