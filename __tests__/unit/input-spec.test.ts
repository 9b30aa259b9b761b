import * as fs from 'fs'
import * as path from 'path'
import { describe, expect, it } from 'vitest'
import { INPUTS, OUTPUTS } from '../../src/config/input-spec'
import { commandHelp } from '../../src/cli/args'

const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8')

describe('one list of inputs', () => {
  it.each(INPUTS.map((input) => input.name))('README documents input %s', (name) => {
    expect(readme).toMatch(new RegExp(`\\| [^|]*\`${name}\``))
  })

  it.each(OUTPUTS.map((output) => output.name))('README documents output %s', (name) => {
    expect(readme).toContain(`| \`${name}\` |`)
  })

  it('the command line offers a flag for every input but mode', () => {
    const help = commandHelp('deploy')
    for (const input of INPUTS.filter((i) => i.name !== 'mode')) expect(help).toContain(`--${input.name}`)
  })
})
