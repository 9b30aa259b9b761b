import { InputError, shown } from './input-error'

/** Release ids are folder names; a leading dot or dash is kept for our own temporary names and options. */
export const RELEASE_ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/

export function checkReleaseId(id: string, input = 'release-id'): string {
  if (!RELEASE_ID_PATTERN.test(id)) {
    throw new InputError(input, `${shown(id)} is not a usable release id. Expected 1 to 128 of A-Z a-z 0-9 . _ - , not starting with . or -, e.g. 20260101120000-1a2b3c4.`)
  }
  return id
}

/** UTC `YYYYMMDDHHMMSS`, then `-` and the short commit sha when known. */
export function defaultReleaseId(now: Date, sha?: string): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14)
  const shortSha = sha && /^[0-9a-f]{7,}$/i.test(sha) ? `-${sha.slice(0, 7).toLowerCase()}` : ''
  return stamp + shortSha
}
