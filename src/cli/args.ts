import * as fs from 'fs'
import { parseArgs } from 'util'
import { INPUTS, InputSpec, isSwitch } from '../config/input-spec'
import { InputReader } from '../config/inputs'
import { Mode } from '../config/settings'

export const COMMANDS: Record<Mode, string> = {
  deploy: 'Upload a new release, link shared paths, run hooks, switch current, prune.',
  rollback: 'Switch current back to the previous good release, or to --release-id.',
  list: 'Show the releases on the server (add --json for JSON).',
  unlock: 'Free a deploy lock left behind, showing who held it.'
}

/** The environment variable that may carry an input: ATOMIC_DEPLOY_SSH_KEY for ssh-key. */
export function envName(input: string): string {
  return `ATOMIC_DEPLOY_${input.replace(/-/g, '_').toUpperCase()}`
}

/** What the command line asked for. */
export interface CliRequest {
  command: Mode
  read: InputReader
  json: boolean
}

export class UsageError extends Error {}

/** Inputs that make no sense as flags: the mode is the subcommand. */
const FLAG_INPUTS = INPUTS.filter((input) => input.name !== 'mode')

type OptionConfig = { type: 'string' | 'boolean'; multiple?: boolean }

/**
 * The flags parseArgs accepts, all read from the input spec: a switch for each
 * `kind: 'switch'` input, a repeatable value flag for every other, and
 * `--<name>-file` for each input marked `file`.
 */
export function flagOptions(): Record<string, OptionConfig> {
  const options: Record<string, OptionConfig> = { help: { type: 'boolean' }, json: { type: 'boolean' } }
  for (const input of FLAG_INPUTS) {
    options[input.name] = isSwitch(input) ? { type: 'boolean' } : { type: 'string', multiple: true }
    if (input.file) options[`${input.name}-file`] = { type: 'string' }
  }
  return options
}

/**
 * Parses `atomic-deploy <command> [--flag value]...`. Every input is a flag of
 * the same name, except secrets: they come only as `--<name>-file` or in the
 * environment; key lists also come as `--<name>-file`; any input may instead
 * be set as ATOMIC_DEPLOY_<NAME> (or ATOMIC_DEPLOY_<NAME>_FILE).
 */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): CliRequest | { help: string } {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === '-h' || command === 'help') return { help: generalHelp() }
  if (!(command in COMMANDS)) throw new UsageError(`Unknown command '${command}'. Expected one of: ${Object.keys(COMMANDS).join(', ')}.`)
  const options = flagOptions()
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: false, strict: true })
  } catch (error) {
    throw new UsageError(`${(error as Error).message.replace(/\. To specify.*$/s, '')}. See 'atomic-deploy ${command} --help'.`)
  }
  const values = parsed.values as Record<string, string[] | string | boolean | undefined>
  if (values.help) return { help: commandHelp(command as Mode) }
  refuseSecretFlags(values)
  const read: InputReader = (name) => {
    const flag = values[name]
    if (Array.isArray(flag)) return flag.join('\n')
    if (flag === true) return 'true'
    const file = values[`${name}-file`] ?? env[`${envName(name)}_FILE`]
    if (typeof file === 'string' && file) return readFile(file, name)
    return env[envName(name)] ?? ''
  }
  return {
    command: command as Mode,
    read: (name) => (name === 'mode' ? command : read(name)),
    json: values.json === true
  }
}

/**
 * A flag's value is in the process's argv, which every user of the machine
 * can read (ps), and often in shell history: a secret (`secret` in the input
 * spec) given as one is refused, before anything else is read.
 */
function refuseSecretFlags(values: Record<string, unknown>): void {
  const given = INPUTS.find((input) => input.secret && values[input.name] !== undefined)
  if (given) {
    throw new UsageError(
      `--${given.name} would put a secret on the command line, where other users of this machine can read it (ps). Give it as ${secretWays(given.name, given.file === true)} instead.`
    )
  }
}

/** The ways a secret may be given on the command line. */
function secretWays(name: string, file: boolean): string {
  return file ? `--${name}-file <path> or the environment variable ${envName(name)} (or ${envName(name)}_FILE)` : `the environment variable ${envName(name)}`
}

function readFile(file: string, input: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (error) {
    throw new UsageError(`--${input}-file ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}.`)
  }
}

/** A secret has no flag of its own name: only its file flag, and the environment. */
function secretHelp(input: InputSpec): string[] {
  const env = input.file ? `env: ${envName(input.name)} or ${envName(input.name)}_FILE` : `env: ${envName(input.name)}`
  const head = input.file ? `  --${input.name}-file <path>` : `  (${input.name}: environment only)`
  return [head, `      ${input.description} Never as --${input.name}: the command line is visible to other users (ps).`, `      ${env}`]
}

function generalHelp(): string {
  return [
    'Usage: atomic-deploy <command> [options]',
    '',
    'Zero-downtime releases over SSH: upload into releases/<id>, link shared paths,',
    'run your commands, switch current with one rename(2), prune, roll back.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, text]) => `  ${name.padEnd(10)}${text}`),
    `  ${'pack'.padEnd(10)}Write the upload a deploy sends to a file; no server needed.`,
    '',
    "Run 'atomic-deploy <command> --help' for its options. Every option can also be",
    'set as an environment variable: --ssh-key-file becomes ATOMIC_DEPLOY_SSH_KEY_FILE.',
    'Secrets (keys, passphrases, passwords) are never flags: give them as files',
    '(--ssh-key-file) or environment variables (ATOMIC_DEPLOY_SSH_KEY).',
    'Exit codes: 0 success, 1 the deploy failed, 2 bad usage or input.'
  ].join('\n')
}

export function commandHelp(command: Mode): string {
  const rows = FLAG_INPUTS.flatMap((input) => {
    if (input.secret) return secretHelp(input)
    const flag = isSwitch(input) ? `--${input.name}` : `--${input.name} <value>`
    const marks = [input.required ? 'required' : '', input.default !== undefined && !isSwitch(input) ? `default: ${input.default}` : ''].filter(Boolean)
    const row = [`  ${flag}`, `      ${input.description}${marks.length ? ` (${marks.join('; ')})` : ''}`, `      env: ${envName(input.name)}`]
    if (input.file) row.push(`  --${input.name}-file <path>`, `      Read ${input.name} from a file (env: ${envName(input.name)}_FILE).`)
    return row
  })
  return [
    `Usage: atomic-deploy ${command} [options]`,
    '',
    COMMANDS[command],
    '',
    'Options:',
    ...rows,
    '  --json',
    '      Print the outcome as JSON on stdout (release ids, releases, per-host results).',
    '  --help',
    '      Show this help.',
    '',
    'Example:',
    `  atomic-deploy ${command} --host web1.example.com --username deploy \\`,
    '    --ssh-key-file ~/.ssh/deploy_key --known-hosts-file known_hosts --path /var/www/app' + (command === 'deploy' ? ' --source dist' : '')
  ].join('\n')
}
