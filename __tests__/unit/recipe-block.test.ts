/**
 * The stack tests run what docs/recipes shows: the block right under its
 * `<!-- tested: name -->` marker, whole, and nothing else.
 */
import { describe, expect, it } from 'vitest'
import { markedBlock, recipeBlock } from '../support/recipe'

describe('markedBlock', () => {
  it('returns the whole body of the fenced block on the line after the marker', () => {
    const text = 'Intro\n\n<!-- tested: conf -->\n```nginx\nserver {\n  listen 80;\n}\n```\n\nAfter.\n'
    expect(markedBlock(text, 'conf', 'x.md')).toBe('server {\n  listen 80;\n}\n')
  })

  it('fails when prose stands between the marker and a block, instead of taking the next block', () => {
    const text = '<!-- tested: conf -->\nThe block moved below.\n\n```sh\nrm -rf /tmp/x\n```\n'
    expect(() => markedBlock(text, 'conf', 'x.md')).toThrow(/the line after <!-- tested: conf --> does not open a fenced block/)
  })

  it('fails when the marker is missing', () => {
    expect(() => markedBlock('```sh\ntrue\n```\n', 'conf', 'x.md')).toThrow(/x.md has no block marked <!-- tested: conf -->/)
  })

  it('reads every block the stack tests use from the recipes', () => {
    for (const [file, names] of [
      ['php-fpm-opcache.md', ['nginx', 'pool', 'opcache']],
      ['node-pm2-systemd.md', ['ecosystem', 'after-activate', 'shutdown']]
    ] as const) {
      for (const name of names) expect(recipeBlock(file, name).trim().length, `${file} ${name}`).toBeGreaterThan(0)
    }
  })
})
