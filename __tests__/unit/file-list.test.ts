import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { describe, expect, it } from 'vitest'
import { excludeMatcher, expectedFindLines, listSource } from '../../src/upload/file-list'

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

describe('listSource', () => {
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
