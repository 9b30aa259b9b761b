import { SharedEntry } from './settings'
import { InputError, shown } from './input-error'
import { relativePathProblem } from './relative-path'

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
  const problem = relativePathProblem(line)
  if (problem) {
    throw new InputError('shared', `${shown(line)} ${problem}. Expected paths relative to the release, e.g. storage/ or .env.`)
  }
  return { path: line.replace(/\/+$/, ''), isDirectory: line.endsWith('/') }
}

/** Non-empty, trimmed lines; `#` starts a comment line. */
export function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
}
