import { lstatSync, readdirSync } from 'fs'
import * as path from 'path'
import picomatch from 'picomatch'

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
  /** Total bytes of regular files. */
  bytes: number
  /** Paths left out because they are neither file, folder nor symlink (sockets, fifos). */
  skipped: string[]
}

/**
 * Builds the exclude test. Patterns follow .gitignore habits: one without a
 * slash matches a name at any depth (`.git`, `*.log`); one with a slash is
 * anchored at the source root (`docs/drafts/**`); a trailing slash matches
 * folders only. An excluded folder is left out with everything in it.
 */
export function excludeMatcher(patterns: string[]): (relPath: string, isDirectory: boolean) => boolean {
  const tests = patterns.map((raw) => {
    const directoryOnly = raw.endsWith('/')
    const pattern = raw.replace(/^\/+/, '').replace(/\/+$/, '')
    const anchored = raw.replace(/\/+$/, '').includes('/')
    const isMatch = picomatch(pattern, { dot: true })
    return (relPath: string, isDirectory: boolean): boolean => {
      if (directoryOnly && !isDirectory) return false
      return isMatch(anchored ? relPath : path.posix.basename(relPath))
    }
  })
  return (relPath, isDirectory) => tests.some((test) => test(relPath, isDirectory))
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
 */
export function listSourceSync(sourceDir: string, exclude: string[]): SourceListing {
  const isExcluded = excludeMatcher(exclude)
  const listing: SourceListing = { entries: [], bytes: 0, skipped: [] }
  const walk = (relDir: string): void => {
    const dirents = readdirSync(path.join(sourceDir, relDir), { withFileTypes: true })
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const dirent of dirents) {
      const relPath = relDir ? `${relDir}/${dirent.name}` : dirent.name
      const isDirectory = dirent.isDirectory()
      if (isExcluded(relPath, isDirectory)) continue
      if (!isDirectory && !dirent.isSymbolicLink() && !dirent.isFile()) {
        listing.skipped.push(relPath)
        continue
      }
      const stat = lstatSync(path.join(sourceDir, relPath))
      const mode = stat.mode & 0o7777
      if (isDirectory) {
        listing.entries.push({ path: relPath, type: 'directory', size: 0, mode })
        walk(relPath)
      } else if (dirent.isSymbolicLink()) {
        listing.entries.push({ path: relPath, type: 'symlink', size: 0, mode })
      } else {
        listing.entries.push({ path: relPath, type: 'file', size: stat.size, mode })
        listing.bytes += stat.size
      }
    }
  }
  walk('')
  return listing
}

/** How many lines `find <staging>` prints below its root for this listing (names may hold newlines). */
export function expectedFindLines(entries: SourceEntry[]): number {
  return entries.reduce((sum, entry) => sum + 1 + (entry.path.match(/\n/g)?.length ?? 0), 0)
}
