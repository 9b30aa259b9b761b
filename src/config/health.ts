import * as fs from 'fs'
import * as path from 'path'
import { HealthSettings, SharedEntry } from './settings'
import { InputError, shown } from './input-error'
import { hasControlCharacter } from './control-characters'
import { isWithin } from './relative-path'

/** Reads one input by name, its default applied (inputs.ts's inputOrDefault). */
type Value = (name: string) => string

/** The health inputs; undefined when neither health-url nor health-command is set. */
export function parseHealth(read: (name: string) => string, value: Value, whole: (text: string, input: string, min: number, max: number) => number): HealthSettings | undefined {
  const urls = parseUrls(read('health-url'))
  const command = read('health-command').replace(/\r\n?/g, '\n').trim()
  if (command.includes('\0')) throw new InputError('health-command', 'contains a NUL character.')
  const expect = read('health-expect').trim()
  if (expect && urls.length === 0) throw new InputError('health-expect', 'is set, but there is no health-url whose body it could be found in; add health-url.')
  if (hasControlCharacter(expect)) throw new InputError('health-expect', `${shown(expect)} must be one line of text.`)
  if (urls.length === 0 && !command) return undefined
  const timeoutSeconds = whole(value('health-timeout'), 'health-timeout', 1, 3600)
  const intervalSeconds = whole(value('health-interval'), 'health-interval', 1, 600)
  // The script gives up when the next try would start past the timeout: one try, ended at once.
  if (intervalSeconds > timeoutSeconds) {
    throw new InputError(
      'health-interval',
      `${intervalSeconds} s is longer than health-timeout (${timeoutSeconds} s), so only one try would run. Make health-interval shorter, or health-timeout longer.`
    )
  }
  return { urls, command, expect, status: parseStatusRanges(value('health-status')), timeoutSeconds, intervalSeconds }
}

function parseUrls(text: string): string[] {
  const urls = text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
  for (const url of urls) {
    if (!/^https?:\/\/[^\s]+$/i.test(url) || hasControlCharacter(url)) {
      throw new InputError('health-url', `${shown(url)} is not an http:// or https:// URL. Give one URL a line, as the server reaches it (http://127.0.0.1/health).`)
    }
  }
  // BusyBox wget takes only a lower-case scheme.
  return urls.map((url) => url.replace(/^https?:/i, (scheme) => scheme.toLowerCase()))
}

/** `200-399`, `200,204,300-399`: inclusive ranges of three-digit codes. */
export function parseStatusRanges(text: string): Array<[number, number]> {
  return text.split(',').map((part) => {
    const match = /^\s*([1-5]\d\d)\s*(?:-\s*([1-5]\d\d)\s*)?$/.exec(part)
    const low = match ? Number(match[1]) : NaN
    const high = match?.[2] ? Number(match[2]) : low
    if (!match || high < low)
      throw new InputError('health-status', `${shown(part.trim())} is not a status code or range. Expected codes and ranges from 100 to 599, comma-separated: 200-399 or 200,204.`)
    return [low, high]
  })
}

/** revision-file: a relative path inside the release, or '' (off, given as false); not in shared/, where the next deploy would find it. */
export function parseRevisionFile(text: string, sourceDir: string, shared: SharedEntry[]): string {
  if (/^(false|no|off|none)$/i.test(text)) return ''
  const segments = text.split('/').filter((s) => s !== '')
  if (text.startsWith('/') || segments.length === 0 || segments.some((s) => s === '.' || s === '..') || hasControlCharacter(text)) {
    throw new InputError('revision-file', `${shown(text)} is not a path inside the release. Expected a relative path such as REVISION or public/REVISION, or false to write none.`)
  }
  const relative = segments.join('/')
  const entry = shared.find((candidate) => isWithin(relative, candidate.path))
  if (entry) {
    const what = entry.path === relative ? 'is also a shared entry' : `lies inside the shared entry ${shown(entry.path)}`
    throw new InputError(
      'revision-file',
      `${shown(relative)} ${what}: it would be written into shared/, where the next deploy finds it and fails. Choose a path outside shared (or false for none).`
    )
  }
  const linked = sourceDir ? linkedFolder(sourceDir, segments.slice(0, -1)) : ''
  if (linked) {
    throw new InputError(
      'revision-file',
      `${shown(linked)} in ${shown(relative)} is a symlink in the workspace: the server would write the file through it, outside the release. Name a path in a real folder of the release (or false for none).`
    )
  }
  if (sourceDir && exists(path.join(sourceDir, relative))) {
    throw new InputError(
      'revision-file',
      `the workspace already has ${shown(relative)}, which the release's revision file would replace. Remove it from source, or name another file (or false for none).`
    )
  }
  return relative
}

/** The first of the folders (a path's parents, in order) that is a symlink in the workspace, or ''. */
function linkedFolder(sourceDir: string, folders: string[]): string {
  for (let i = 1; i <= folders.length; i++) {
    const folder = folders.slice(0, i).join('/')
    try {
      if (fs.lstatSync(path.join(sourceDir, folder)).isSymbolicLink()) return folder
    } catch {
      return ''
    }
  }
  return ''
}

function exists(file: string): boolean {
  try {
    fs.lstatSync(file)
    return true
  } catch {
    return false
  }
}
