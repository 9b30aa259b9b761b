import { parseArgs } from 'util'
import { INPUTS } from '../config/input-spec'
import { InputReader, parseUploadSettings } from '../config/inputs'
import { UploadSettings } from '../config/settings'
import { UsageError, envName } from './args'

/** The inputs that shape the upload stream: the flags `pack` takes besides --output. */
const PACK_INPUTS = ['source', 'exclude', 'compression', 'compression-level', 'incremental']

export interface PackRequest {
  settings: UploadSettings
  output: string
}

/**
 * Parses `atomic-deploy pack --output FILE [--source DIR] ...`: the upload
 * flags of deploy, with their environment variables, and the file to write.
 */
export function parsePackCommand(argv: string[], env: NodeJS.ProcessEnv): PackRequest | { help: string } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { help: { type: 'boolean' }, output: { type: 'string' } }
  for (const name of PACK_INPUTS) options[name] = { type: 'string', multiple: true }
  let values: Record<string, string[] | string | boolean | undefined>
  try {
    values = parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values as typeof values
  } catch (error) {
    throw new UsageError(`${(error as Error).message.replace(/\. To specify.*$/s, '')}. See 'atomic-deploy pack --help'.`)
  }
  if (values.help) return { help: packHelp() }
  const output = typeof values.output === 'string' ? values.output : ''
  if (!output) throw new UsageError("pack needs --output <file>, the file to write the upload to. See 'atomic-deploy pack --help'.")
  const read: InputReader = (name) => {
    const flag = values[name]
    return Array.isArray(flag) ? flag.join('\n') : (env[envName(name)] ?? '')
  }
  return { settings: parseUploadSettings(read, env), output }
}

export function packHelp(): string {
  const rows = INPUTS.filter((input) => PACK_INPUTS.includes(input.name)).flatMap((input) => [
    `  --${input.name} <value>`,
    `      ${input.description}${input.default !== undefined ? ` (default: ${input.default})` : ''}`,
    `      env: ${envName(input.name)}`
  ])
  return [
    'Usage: atomic-deploy pack --output <file> [options]',
    '',
    'Writes the upload a deploy sends (tar, compressed) to a file; no server needed.',
    'It is the stream a first deploy sends to a server that has zstd, gzip and',
    "sha256sum, packed by this machine's tar: list it with tar -tf <file>.",
    '',
    'Options:',
    '  --output <file>',
    '      The file to write (required).',
    ...rows,
    '  --help',
    '      Show this help.',
    '',
    'Example:',
    '  atomic-deploy pack --source dist --compression none --output upload.tar'
  ].join('\n')
}
