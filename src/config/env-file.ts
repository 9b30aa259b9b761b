import { EnvFile, SharedEntry } from './settings'
import { InputError, shown } from './input-error'
import { isWithin, relativePathProblem } from './relative-path'

/**
 * The env file travels quoted inside the prepare script (on stdin); this cap
 * keeps that script a script. Checked on the text as given, before connecting.
 */
export const MAX_ENV_FILE_BYTES = 256 * 1024

/**
 * `env-file` and `env-file-path`: the text that becomes the release's file,
 * and where. Windows line ends become LF and the file ends with a newline
 * (the action's inputs lose their final newline). A path that is a shared
 * entry, or lies inside one, would write into shared/, which the live release
 * also sees: refused.
 */
export function parseEnvFile(text: string, pathText: string, shared: SharedEntry[]): EnvFile | undefined {
  const path = parseEnvFilePath(pathText)
  if (text.trim() === '') return undefined
  refuseSharedPath(path, shared)
  if (text.includes('\0')) throw new InputError('env-file', 'contains a NUL byte, which no shell can carry into a file; is it a binary file? Give the text of the .env file.')
  const size = Buffer.byteLength(text)
  if (size > MAX_ENV_FILE_BYTES) {
    throw new InputError('env-file', `is ${Math.ceil(size / 1024)} KiB; at most ${MAX_ENV_FILE_BYTES / 1024} KiB is sent. Keep large files in shared/ instead.`)
  }
  const lf = text.replace(/\r\n?/g, '\n')
  return { path, text: lf.endsWith('\n') ? lf : `${lf}\n` }
}

function parseEnvFilePath(text: string): string {
  const problem = text.endsWith('/') ? 'ends with /, but names a file' : relativePathProblem(text)
  if (problem) throw new InputError('env-file-path', `${shown(text)} ${problem}. Expected a file path relative to the release, e.g. .env or config/.env.`)
  return text
}

function refuseSharedPath(text: string, shared: SharedEntry[]): void {
  const entry = shared.find((candidate) => isWithin(text, candidate.path))
  if (entry) {
    const what = entry.path === text ? 'is also a shared entry' : `lies inside the shared entry ${shown(entry.path)}`
    throw new InputError(
      'env-file-path',
      `${shown(text)} ${what}: the file would be written into shared/, which the live release sees before the switch. Take it out of shared (env-file writes it into every release), or choose another env-file-path.`
    )
  }
}
