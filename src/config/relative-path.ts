import { hasControlCharacter } from './control-characters'

/**
 * Why a path the user gave, meant to lie inside the release, cannot be used
 * (a shared entry, env-file-path, a writable path); undefined when it can.
 * Any trailing `/` is taken off first.
 */
export function relativePathProblem(line: string): string | undefined {
  const path = line.replace(/\/+$/, '')
  const segments = path.split('/')
  if (line.startsWith('/')) return 'is absolute'
  if (segments.some((s) => s === '..' || s === '.')) return "contains '.' or '..'"
  if (segments.some((s) => s === '' || hasControlCharacter(s))) return 'has an empty part or a control character'
  if (segments[0].startsWith('-')) return "starts with '-'"
  if (segments.some((s) => Buffer.byteLength(s) > 255) || Buffer.byteLength(path) > 1000) return 'is too long (a part over 255 bytes, or over 1000 bytes in all)'
  return undefined
}

/** True when `inner` is `outer` or lies inside it (both without a trailing `/`). */
export function isWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(`${outer}/`)
}
