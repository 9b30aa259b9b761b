import * as fs from 'fs'
import * as path from 'path'
import { describe, expect, it } from 'vitest'

/**
 * The layers of src/ and which way imports may go: front ends (action, cli)
 * on core and config; core on upload, ssh, remote and config; those three on
 * config only; config on nothing else. No file may import itself back
 * through others.
 */
const MAY_IMPORT: Record<string, string[]> = {
  action: ['core', 'config'],
  cli: ['core', 'config'],
  core: ['upload', 'ssh', 'remote', 'config'],
  upload: ['config'],
  ssh: ['config'],
  remote: ['config'],
  config: []
}

const SRC = path.join(__dirname, '..', '..', 'src')

function sourceFiles(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(full)
    return entry.name.endsWith('.ts') ? [full] : []
  })
}

/** The src files a file imports (relative imports only; packages are not layers). */
function importsOf(file: string, text = fs.readFileSync(file, 'utf8')): string[] {
  const specs = [...text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/gm), ...text.matchAll(/import\('(\.[^']+)'\)/g)].map((m) => m[1])
  return specs.map((spec) => {
    const base = path.resolve(path.dirname(file), spec)
    return fs.existsSync(path.join(base, 'index.ts')) ? path.join(base, 'index.ts') : `${base}.ts`
  })
}

const layerOf = (file: string): string => path.relative(SRC, file).split(path.sep)[0]

/** Every import cycle, as a list of files (each cycle found once from its first file). */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = []
  const done = new Set<string>()
  const visit = (file: string, trail: string[]): void => {
    const at = trail.indexOf(file)
    if (at >= 0) {
      found.push([...trail.slice(at), file])
      return
    }
    if (done.has(file)) return
    for (const next of graph.get(file) ?? []) visit(next, [...trail, file])
    done.add(file)
  }
  for (const file of graph.keys()) visit(file, [])
  return found
}

describe('layers', () => {
  const files = sourceFiles()
  const graph = new Map(files.map((file) => [file, importsOf(file)]))
  const show = (file: string): string => path.relative(SRC, file)

  it('every file of src/ sits in a layer folder', () => {
    expect(files.length).toBeGreaterThan(20)
    expect(files.map(show).filter((file) => !(layerOf(path.join(SRC, file)) in MAY_IMPORT))).toEqual([])
  })

  it('imports flow one way: front ends -> core -> upload, ssh, remote -> config', () => {
    const against = [...graph].flatMap(([file, imports]) =>
      imports
        .filter((target) => layerOf(target) !== layerOf(file) && !MAY_IMPORT[layerOf(file)]?.includes(layerOf(target)))
        .map((target) => `${show(file)} imports ${show(target)}`)
    )
    expect(against).toEqual([])
  })

  it('has no import cycle', () => {
    expect(cycles(graph).map((cycle) => cycle.map(show).join(' -> '))).toEqual([])
  })

  it('the checks can fail: an import against the direction and a cycle are both seen', () => {
    const a = path.join(SRC, 'config', 'a.ts')
    const b = path.join(SRC, 'core', 'b.ts')
    const fake = new Map([
      [a, importsOf(a, "import { x } from '../core/b'")],
      [b, importsOf(b, "import { y } from '../config/a'")]
    ])
    expect(MAY_IMPORT[layerOf(a)].includes(layerOf(fake.get(a)![0]))).toBe(false)
    expect(cycles(fake).length).toBeGreaterThan(0)
  })
})
