import { isUtf8 } from 'buffer'
import { Dirent, lstatSync, readdirSync, statSync } from 'fs'
import * as path from 'path'
import picomatch from 'picomatch'
import { excludeLine } from '../config/exclude'
import { hasControlCharacter } from '../config/control-characters'

export interface SourceEntry {
  /** Relative to the source folder, `/`-separated. */
  path: string
  type: 'file' | 'directory' | 'symlink'
  size: number
  /** Permission bits (st_mode & 0o7777). */
  mode: number
}

export interface SourceListing {
  entries: SourceEntry[]
  /** Permission bits of the source folder itself, which the release root gets (folderMode). */
  rootMode: number
  /** Total bytes of regular files. */
  bytes: number
  /** Paths left out because they are neither file, folder nor symlink (sockets, fifos). */
  skipped: string[]
  /** Paths the exclude patterns left out (a folder stands for everything in it). */
  excluded: string[]
  /** Names that are not valid UTF-8 and no pattern left out, escaped (escapedName); nothing below them was read. */
  undecodable: string[]
}

/** One exclude line: its test, and whether it re-includes (`!pattern`) rather than excludes. */
interface ExcludeRule {
  negated: boolean
  matches(relPath: string, isDirectory: boolean): boolean
}

/**
 * One exclude line as a test (its syntax: excludeLine). Matching is
 * picomatch's, with `*` matching dot names too, as in .gitignore; a trailing
 * `/**` matches what is inside a folder, not the folder itself, as git reads it.
 */
function excludeRule(line: string): ExcludeRule {
  const { negated, glob, directoryOnly, anchored } = excludeLine(line)
  // The ! has been taken off already (or was escaped): picomatch must not read one as its own negation.
  const options = { dot: true, nonegate: true }
  const isMatch = picomatch(glob, options)
  const isFolderItself = glob.endsWith('/**') ? picomatch(glob.slice(0, -3), options) : undefined
  return {
    negated,
    matches: (relPath, isDirectory) => {
      if (directoryOnly && !isDirectory) return false
      if (!anchored) return isMatch(path.posix.basename(relPath))
      return isMatch(relPath) && !isFolderItself?.(relPath)
    }
  }
}

/**
 * Builds the exclude test. The lines are read in order and, as in
 * .gitignore, the last one that matches a path decides: a later `!pattern`
 * re-includes what an earlier pattern left out. An excluded folder is left
 * out with everything in it, and, as git does, nothing inside it can be
 * re-included unless the folder itself is (`!folder/`).
 */
export function excludeMatcher(patterns: string[]): (relPath: string, isDirectory: boolean) => boolean {
  const rules = patterns.map(excludeRule).reverse()
  return (relPath, isDirectory) => {
    const decisive = rules.find((rule) => rule.matches(relPath, isDirectory))
    return decisive !== undefined && !decisive.negated
  }
}

/**
 * Lists what will be uploaded, folders before their contents, in a stable
 * order, as a promise (a failure to read is its rejection); the work is
 * listSourceSync's.
 */
export function listSource(sourceDir: string, exclude: string[]): Promise<SourceListing> {
  return new Promise((resolve) => resolve(listSourceSync(sourceDir, exclude)))
}

/**
 * listSource's work. Synchronous calls on purpose: for ten thousand small
 * entries they are several times faster than the thread pool's round trips.
 * Names are read as bytes, so that one that is not UTF-8 is reported rather
 * than decoded into a name that does not exist on disk.
 */
export function listSourceSync(sourceDir: string, exclude: string[]): SourceListing {
  const isExcluded = excludeMatcher(exclude)
  const listing: SourceListing = { entries: [], rootMode: folderMode(sourceDir), bytes: 0, skipped: [], excluded: [], undecodable: [] }
  const walk = (relDir: string): void => {
    const dirents = readdirSync(path.join(sourceDir, relDir), { withFileTypes: true, encoding: 'buffer' }).map((dirent) => ({ dirent, name: dirent.name.toString('utf8') }))
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const { dirent, name } of dirents) {
      const relPath = relDir ? `${relDir}/${name}` : name
      const isDirectory = dirent.isDirectory()
      if (isExcluded(relPath, isDirectory)) {
        listing.excluded.push(relPath)
        continue
      }
      if (!isUtf8(dirent.name)) {
        listing.undecodable.push(escapedName(Buffer.concat([Buffer.from(relDir ? `${relDir}/` : ''), dirent.name])))
        continue
      }
      if (!isDirectory && !dirent.isSymbolicLink() && !dirent.isFile()) {
        listing.skipped.push(relPath)
        continue
      }
      addEntry(listing, sourceDir, relPath, dirent)
      if (isDirectory) walk(relPath)
    }
  }
  walk('')
  return listing
}

/**
 * A folder's permission bits. Windows has none to give (Node reports every
 * folder there as 666, not even traversable): 755, as a checkout has on Linux.
 */
export function folderMode(dir: string): number {
  return process.platform === 'win32' ? 0o755 : statSync(dir).mode & 0o7777
}

function addEntry(listing: SourceListing, sourceDir: string, relPath: string, dirent: Dirent<Buffer>): void {
  const stat = lstatSync(path.join(sourceDir, relPath))
  const mode = stat.mode & 0o7777
  if (dirent.isDirectory()) {
    listing.entries.push({ path: relPath, type: 'directory', size: 0, mode })
  } else if (dirent.isSymbolicLink()) {
    listing.entries.push({ path: relPath, type: 'symlink', size: 0, mode })
  } else {
    listing.entries.push({ path: relPath, type: 'file', size: stat.size, mode })
    listing.bytes += stat.size
  }
}

/**
 * A name for messages: its valid UTF-8 as text, every other byte, control
 * characters and the backslash as `\xNN`, so that the name can be found and
 * renamed (`printf 'caf\xe9'`) and cannot break the log line.
 */
export function escapedName(name: Buffer): string {
  let shown = ''
  for (let i = 0; i < name.length;) {
    const length = [1, 2, 3, 4].find((n) => i + n <= name.length && isUtf8(name.subarray(i, i + n)))
    const text = length === undefined ? '' : name.subarray(i, i + length).toString('utf8')
    if (length === undefined || text === '\\' || hasControlCharacter(text)) {
      shown += `\\x${name[i].toString(16).padStart(2, '0')}`
      i += 1
    } else {
      shown += text
      i += length
    }
  }
  return shown
}

/** How many lines `find <staging>` prints below its root for this listing (names may hold newlines). */
export function expectedFindLines(entries: SourceEntry[]): number {
  return entries.reduce((sum, entry) => sum + 1 + (entry.path.match(/\n/g)?.length ?? 0), 0)
}
