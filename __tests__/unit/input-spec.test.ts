import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { describe, expect, it } from 'vitest'
import { INPUTS, OUTPUTS, isSwitch } from '../../src/config/input-spec'
import { UsageError, commandHelp, envName, flagOptions, parseCommandLine } from '../../src/cli/args'

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

  it.each(INPUTS.filter((input) => input.default !== undefined).map((input) => [input.name, input.default] as const))(
    'README shows the default of %s as the spec has it, %s',
    (name, value) => {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`))
      // Rows that document several inputs at once (the proxy's) name no default.
      if (row) expect(row.split('|')[2].trim()).toBe(`\`${value}\``)
    }
  )
})

describe('the command line follows the spec', () => {
  const options = flagOptions()
  const inputFlags = INPUTS.filter((input) => input.name !== 'mode')

  it("its switches are exactly the spec's switches", () => {
    const switches = Object.keys(options).filter((flag) => options[flag].type === 'boolean' && !['help', 'json'].includes(flag))
    expect(switches.sort()).toEqual(
      INPUTS.filter(isSwitch)
        .map((input) => input.name)
        .sort()
    )
  })

  it('a switch defaults to false and is true when given', () => {
    for (const input of INPUTS.filter(isSwitch)) {
      expect(input.default).toBe('false')
      const request = parseCommandLine(['deploy', `--${input.name}`], {})
      if ('help' in request) throw new Error('expected a request')
      expect(request.read(input.name)).toBe('true')
    }
  })

  it("its --<name>-file flags are exactly the spec's file inputs", () => {
    // An input's own name may end in -file too (env-file, revision-file): that is its flag, not a file flag.
    const fileFlags = Object.keys(options).filter((flag) => flag.endsWith('-file') && !INPUTS.some((input) => input.name === flag))
    expect(fileFlags.sort()).toEqual(
      INPUTS.filter((input) => input.file)
        .map((input) => `${input.name}-file`)
        .sort()
    )
  })

  it('every secret input can be read from a file', () => {
    for (const input of INPUTS.filter((i) => i.secret)) {
      expect(options[`${input.name}-file`], input.name).toEqual({ type: 'string' })
      expect(commandHelp('deploy')).toContain(`--${input.name}-file <path>`)
    }
  })

  it('every other input is a value flag of its own name', () => {
    for (const input of inputFlags.filter((i) => !isSwitch(i))) expect(options[input.name], input.name).toEqual({ type: 'string', multiple: true })
  })

  it('refuses each secret given as a flag value, naming the flag and the two ways to give it', () => {
    const secrets = INPUTS.filter((input) => input.secret)
    expect(secrets.length).toBeGreaterThan(0)
    for (const input of secrets) {
      for (const argv of [
        ['deploy', '--host', 'h', `--${input.name}`, 'hunter2'],
        ['deploy', `--${input.name}=hunter2`]
      ]) {
        expect(() => parseCommandLine(argv, {}), input.name).toThrow(UsageError)
        expect(() => parseCommandLine(argv, {}), input.name).toThrow(`--${input.name} would put a secret on the command line`)
        expect(() => parseCommandLine(argv, {}), input.name).toThrow(`--${input.name}-file <path> or the environment variable ${envName(input.name)}`)
      }
    }
  })

  it('takes every other input as a flag value, and a secret from its file or the environment', () => {
    const others = inputFlags.filter((i) => !isSwitch(i) && !i.secret)
    const request = parseCommandLine(['deploy', ...others.flatMap((input) => [`--${input.name}`, 'x'])], {})
    if ('help' in request) throw new Error('expected a request')
    for (const input of others) expect(request.read(input.name), input.name).toBe('x')
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-args-')), 'secret')
    fs.writeFileSync(file, 'from a file', { mode: 0o600 })
    try {
      const [first, second] = INPUTS.filter((input) => input.secret)
      const fromFile = parseCommandLine(['deploy', `--${first.name}-file`, file], { [envName(second.name)]: 'from the environment' })
      if ('help' in fromFile) throw new Error('expected a request')
      expect(fromFile.read(first.name)).toBe('from a file')
      expect(fromFile.read(second.name)).toBe('from the environment')
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true })
    }
  })

  it('help shows a secret only as its file flag and environment variable', () => {
    for (const input of INPUTS.filter((i) => i.secret)) {
      expect(commandHelp('deploy')).not.toContain(`--${input.name} <value>`)
      expect(commandHelp('deploy')).toContain(`env: ${envName(input.name)} or ${envName(input.name)}_FILE`)
    }
  })
})
