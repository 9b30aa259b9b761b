import { SharedEntry } from './settings'
import { InputError, shown } from './input-error'
import { hasControlCharacter } from './control-characters'

/** Parses the `shared` input: one relative path a line, a trailing `/` marks a directory. */
export function parseSharedEntries(text: string): SharedEntry[] {
  const entries = lines(text).map(parseSharedEntry)
  for (const a of entries) {
    for (const b of entries) {
      if (a === b) continue
      if (a.path === b.path) throw new InputError('shared', `${shown(a.path)} is listed twice.`)
      if (b.path.startsWith(`${a.path}/`)) {
        throw new InputError('shared', `${shown(b.path)} lies inside ${shown(a.path)}; list only the outer one.`)
      }
    }
  }
  return entries
}

function parseSharedEntry(line: string): SharedEntry {
  const isDirectory = line.endsWith('/')
  const path = line.replace(/\/+$/, '')
  const segments = path.split('/')
  const problem = line.startsWith('/')
    ? 'is absolute'
    : segments.some((s) => s === '..' || s === '.')
      ? "contains '.' or '..'"
      : segments.some((s) => s === '' || hasControlCharacter(s))
        ? 'has an empty part or a control character'
        : segments[0].startsWith('-')
          ? "starts with '-'"
          : segments.some((s) => Buffer.byteLength(s) > 255) || Buffer.byteLength(path) > 1000
            ? 'is too long (a part over 255 bytes, or over 1000 bytes in all)'
            : undefined
  if (problem) {
    throw new InputError('shared', `${shown(line)} ${problem}. Expected paths relative to the release, e.g. storage/ or .env.`)
  }
  return { path, isDirectory }
}

/** Non-empty, trimmed lines; `#` starts a comment line. */
export function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
}
