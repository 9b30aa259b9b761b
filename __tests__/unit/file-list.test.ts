import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { describe, expect, it } from 'vitest'
import { escapedName, excludeMatcher, expectedFindLines, listSource } from '../../src/upload/file-list'
import { parseExclude } from '../../src/config/exclude'

describe('excludeMatcher', () => {
  const excluded = excludeMatcher(['.git', '*.log', 'node_modules/', 'docs/drafts/**', '/secret.txt'])
  it.each([
    ['.git', true, true],
    ['sub/.git', true, true],
    ['app.log', false, true],
    ['var/app.log', false, true],
    ['node_modules', true, true],
    ['node_modules', false, false],
    ['docs/drafts/a.md', false, true],
    ['docs/final.md', false, false],
    ['secret.txt', false, true],
    ['sub/secret.txt', false, false],
    ['index.html', false, false]
  ])('%s (folder: %s) excluded: %s', (relPath, isDirectory, expected) => {
    expect(excluded(relPath, isDirectory)).toBe(expected)
  })
})

describe('excludeMatcher reads the lines in order, as .gitignore does', () => {
  const cases: Array<[string[], string, boolean, boolean]> = [
    // A !pattern alone excludes nothing: before, picomatch read it as "everything but keep.log".
    [['!keep.log'], 'index.html', false, false],
    [['!keep.log'], 'keep.log', false, false],
    [['*.log', '!keep.log'], 'keep.log', false, false],
    [['*.log', '!keep.log'], 'var/keep.log', false, false],
    [['*.log', '!keep.log'], 'app.log', false, true],
    // The last matching line decides.
    [['!keep.log', '*.log'], 'keep.log', false, true],
    [['*.log', '!keep.log', 'var/*.log'], 'var/keep.log', false, true],
    [['logs', '!logs'], 'logs', true, false],
    [['logs/', '!logs/'], 'logs', true, false],
    // A trailing /** leaves the folder itself in, so what is inside can be put back.
    [['logs/**'], 'logs', true, false],
    [['logs/**'], 'logs/a.log', false, true],
    [['logs/**', '!logs/keep.log'], 'logs/keep.log', false, false],
    // \! is a literal ! at the start of a name.
    [['\\!important'], '!important', false, true],
    [['\\!important'], 'important', false, false]
  ]
  it.each(cases)('%j: %s (folder: %s) excluded: %s', (patterns, relPath, isDirectory, expected) => {
    expect(excludeMatcher(patterns)(relPath, isDirectory)).toBe(expected)
  })
})

describe('listSource', () => {
  const workspace = (files: Record<string, string>): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-list-'))
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
      fs.writeFileSync(path.join(dir, name), content)
    }
    return dir
  }
  const listed = async (dir: string, exclude: string): Promise<string[]> => (await listSource(dir, parseExclude(exclude))).entries.map((e) => e.path)

  it('leaves .git out whatever exclude says, unless a !.git line puts it back', async () => {
    const dir = workspace({ '.git/config': 'token', 'index.html': '1', 'node_modules/x.js': '1' })
    expect(await listed(dir, '')).toEqual(['index.html', 'node_modules', 'node_modules/x.js'])
    expect(await listed(dir, 'node_modules/')).toEqual(['index.html'])
    expect(await listed(dir, 'node_modules/\n!.git')).toEqual(['.git', '.git/config', 'index.html'])
  })

  it('puts back a file with a later !pattern, but not inside a folder left out unless the folder is put back', async () => {
    const dir = workspace({ 'a.log': 'x', 'keep.log': 'x', 'index.html': '1', 'logs/keep.log': 'x', 'logs/b.log': 'x' })
    expect(await listed(dir, '!keep.log')).toEqual(['a.log', 'index.html', 'keep.log', 'logs', 'logs/b.log', 'logs/keep.log'])
    expect(await listed(dir, '*.log\n!keep.log')).toEqual(['index.html', 'keep.log', 'logs', 'logs/keep.log'])
    expect(await listed(dir, 'logs/\n!logs/keep.log')).toEqual(['a.log', 'index.html', 'keep.log'])
    expect(await listed(dir, 'logs/**\n!logs/keep.log')).toEqual(['a.log', 'index.html', 'keep.log', 'logs', 'logs/keep.log'])
    expect(await listed(dir, '*\n!index.html')).toEqual(['index.html'])
  })

  it("README's exclude example leaves out what its comments say", async () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8')
    const example = /```yaml\nexclude: \|\n((?: {2}.*\n)+)```/.exec(readme)
    expect(example).not.toBeNull()
    const dir = workspace({
      'node_modules/x.js': '',
      'a.log': '',
      'keep.log': '',
      'var/keep.log': '',
      'var/b.log': '',
      'storage/.gitkeep': '',
      'storage/cache/x': '',
      'index.php': ''
    })
    expect(await listed(dir, example![1].replace(/^ {2}/gm, ''))).toEqual(['index.php', 'keep.log', 'storage', 'storage/.gitkeep', 'var', 'var/keep.log'])
  })

  it('reports names that are not UTF-8, escaped, instead of failing on a decoded name that does not exist', async () => {
    const dir = workspace({ 'index.html': '1' })
    const bytes = (text: string): Buffer => Buffer.from(text, 'latin1')
    fs.writeFileSync(Buffer.concat([Buffer.from(dir + '/'), bytes('caf\xe9.txt')]), 'x')
    fs.mkdirSync(Buffer.concat([Buffer.from(dir + '/'), bytes('d\xff')]))
    fs.writeFileSync(Buffer.concat([Buffer.from(dir + '/'), bytes('d\xff/inner')]), 'x')
    fs.mkdirSync(path.join(dir, 'sub'))
    fs.writeFileSync(Buffer.concat([Buffer.from(dir + '/sub/'), bytes('\xe9t\xe9')]), 'x')
    const listing = await listSource(dir, parseExclude(''))
    expect(listing.entries.map((e) => e.path)).toEqual(['index.html', 'sub'])
    expect(listing.undecodable.sort()).toEqual(['caf\\xe9.txt', 'd\\xff', 'sub/\\xe9t\\xe9'])
    // An exclude line can leave them out: the pattern is matched against the name with the bad bytes decoded as U+FFFD.
    expect((await listSource(dir, parseExclude('caf*.txt\nd*/\nsub/*t*'))).undecodable).toEqual([])
  })

  it('records what the patterns left out, a folder once', async () => {
    const dir = workspace({ '.git/config': 'x', 'a.log': 'x', 'logs/b.txt': 'x' })
    expect((await listSource(dir, parseExclude('*.log\nlogs/'))).excluded).toEqual(['.git', 'a.log', 'logs'])
  })

  it('lists folders before their contents, leaves excluded folders out whole, and sums bytes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-list-'))
    for (const [name, content] of Object.entries({ 'b/x.txt': '12345', 'a.txt': '1', '.git/config': 'x', 'b/c/d.log': 'zz' })) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
      fs.writeFileSync(path.join(dir, name), content)
    }
    fs.symlinkSync('a.txt', path.join(dir, 'link'))
    const listing = await listSource(dir, ['.git', '*.log'])
    expect(listing.entries.map((e) => `${e.type}:${e.path}`)).toEqual(['file:a.txt', 'directory:b', 'directory:b/c', 'file:b/x.txt', 'symlink:link'])
    expect(listing.bytes).toBe(6)
  })

  it('counts the lines find prints, names with newlines included', () => {
    expect(
      expectedFindLines([
        { path: 'a\nb', type: 'directory', size: 0, mode: 0o755 },
        { path: 'a\nb/c', type: 'file', size: 0, mode: 0o644 }
      ])
    ).toBe(4)
  })
})

describe('escapedName', () => {
  it.each([
    [[0x63, 0x61, 0x66, 0xe9], 'caf\\xe9'],
    [[0xc3, 0xa9, 0x2e, 0x74], 'é.t'],
    [[0xe2, 0x82, 0x41], '\\xe2\\x82A'],
    [[0x61, 0x0a, 0x5c, 0x7f, 0xff], 'a\\x0a\\x5c\\x7f\\xff'],
    [[0xf0, 0x9f, 0x98, 0x80], '\u{1F600}']
  ])('%j is shown as %s', (bytes, shown) => {
    expect(escapedName(Buffer.from(bytes))).toBe(shown)
  })
})
