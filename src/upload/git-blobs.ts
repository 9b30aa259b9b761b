import { execFile } from 'child_process'
import { existsSync } from 'fs'
import * as path from 'path'

/** The hash a repository names its objects with; a folder outside any repository gets sha1, git's default. */
export type ObjectFormat = 'sha1' | 'sha256'

/** What git can vouch for in a source folder: blob ids of files whose bytes on disk are those of the blob. */
export interface GitBlobs {
  format: ObjectFormat
  /** Blob id by path relative to the source folder (`/`-separated, as in the listing). */
  trusted: Map<string, string>
}

const NOTHING_TRUSTED = (format: ObjectFormat): GitBlobs => ({ format, trusted: new Map() })

/**
 * Attributes under which the bytes in the worktree may differ from the blob
 * (line endings, filters, $Id$, another encoding). A file with any of them
 * set to anything but "unspecified" or "unset" is hashed from its bytes.
 */
const CONVERTING_ATTRIBUTES = ['text', 'crlf', 'eol', 'filter', 'ident', 'working-tree-encoding']

/**
 * Settings that would make `git diff-files` trust more than the bytes and
 * full stat data: a file system monitor, stat checks limited to size and
 * mtime, or no ctime.
 */
const STRICT_CONFIG = ['core.fsmonitor=false', 'core.checkStat=default', 'core.trustctime=true', 'core.ignoreStat=false']

/**
 * Blob ids git already holds for tracked files of `sourceDir` that are, by
 * git's own check (`diff-files`, with its racy-timestamp rule), unchanged in
 * the worktree. Anything doubtful is left out, to be hashed from its bytes:
 * untracked and ignored files, modified or stat-dirty ones, conflicts,
 * assume-unchanged and skip-worktree (sparse) entries, symlinks and gitlinks,
 * files with converting attributes, and everything when core.autocrlf is on.
 * Never fails: without git, outside a repository or on any error nothing is
 * trusted, and an unexpected error is logged in one line.
 */
export async function gitBlobs(sourceDir: string, log: (line: string) => void): Promise<GitBlobs> {
  let format: ObjectFormat = 'sha1'
  try {
    // Outside any checkout (a build output folder) no process at all: a
    // spawn from a process holding the listing costs more than it saves.
    if (!underDotGit(sourceDir)) return NOTHING_TRUSTED(format)
    const where = await repositoryAt(sourceDir)
    if (where === undefined) return NOTHING_TRUSTED(format)
    format = where.format
    const [index, dirty, autocrlf] = await Promise.all([
      git(sourceDir, ['ls-files', '--stage', '-v', '-z', '--full-name']),
      git(sourceDir, ['diff-files', '--name-only', '-z']),
      git(sourceDir, ['config', '--get', 'core.autocrlf'], [0, 1])
    ])
    if (!['', 'false', 'no', 'off', '0'].includes(autocrlf.trim().toLowerCase())) return NOTHING_TRUSTED(format)
    const trusted = cleanEntries(index, new Set(fields(dirty)), where.prefix, format)
    // Only the candidates: an untracked node_modules would cost more than it could save.
    for (const relPath of await convertedPaths(sourceDir, [...trusted.keys()])) trusted.delete(relPath)
    return { format, trusted }
  } catch (error) {
    log(`Hashing every file: git could not tell which files are unchanged (${firstLine(error)}).`)
    return NOTHING_TRUSTED(format)
  }
}

/**
 * Whether `.git` is in the folder or one above it, as git looks for a
 * repository (the caller's GIT_DIR is not passed on to git). Only a shortcut:
 * git decides when there is one.
 */
function underDotGit(sourceDir: string): boolean {
  for (let dir = path.resolve(sourceDir); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, '.git'))) return true
    if (path.dirname(dir) === dir) return false
  }
}

/** The object format and the source folder's path inside its worktree, or undefined when git is absent or this is no worktree. */
async function repositoryAt(sourceDir: string): Promise<{ format: ObjectFormat; prefix: string } | undefined> {
  let out: string
  try {
    out = await git(sourceDir, ['rev-parse', '--is-inside-work-tree', '--show-prefix', '--show-object-format'])
  } catch (error) {
    if (isNoGit(error) || /not a git repository/i.test(String(error))) return undefined
    throw error
  }
  const [inside, prefix, format] = out.split('\n')
  if (inside !== 'true') return undefined
  if (format !== 'sha1' && format !== 'sha256') throw new Error(`unknown object format ${JSON.stringify(format)}`)
  return { format, prefix }
}

/**
 * Index entries below `prefix` that git reports clean: tag H (cached; not
 * assume-unchanged, which is lower case, nor skip-worktree, S), a regular
 * file, stage 0, with an id of the repository's length, and not listed by diff-files.
 */
function cleanEntries(lsFiles: string, dirty: Set<string>, prefix: string, format: ObjectFormat): Map<string, string> {
  const idLength = format === 'sha1' ? 40 : 64
  const clean = new Map<string, string>()
  for (const record of fields(lsFiles)) {
    const match = /^(\S) (\d+) ([0-9a-f]+) (\d)\t(.*)$/s.exec(record)
    if (match === null) throw new Error('unexpected output from git ls-files')
    const [, tag, mode, id, stage, fullPath] = match
    if (tag !== 'H' || (mode !== '100644' && mode !== '100755') || stage !== '0' || id.length !== idLength) continue
    if (!fullPath.startsWith(prefix) || dirty.has(fullPath)) continue
    clean.set(fullPath.slice(prefix.length), id)
  }
  return clean
}

/**
 * The paths among `relPaths` that have a converting attribute
 * (CONVERTING_ATTRIBUTES). `--all` prints only attributes that are specified,
 * so a tree with few attributes makes little output to read.
 */
async function convertedPaths(sourceDir: string, relPaths: string[]): Promise<Set<string>> {
  const converted = new Set<string>()
  if (relPaths.length === 0) return converted
  // Not fields(): a value may be empty, and triples must stay aligned.
  const out = (await git(sourceDir, ['check-attr', '--all', '-z', '--stdin'], [0], relPaths.map((p) => `${p}\0`).join(''))).split('\0')
  for (let i = 0; i + 2 < out.length; i += 3) {
    if (CONVERTING_ATTRIBUTES.includes(out[i + 1]) && out[i + 2] !== 'unspecified' && out[i + 2] !== 'unset') converted.add(out[i])
  }
  return converted
}

function fields(out: string): string[] {
  return out.split('\0').filter(Boolean)
}

/**
 * Runs git in `cwd` with none of the caller's GIT_* variables (GIT_DIR or
 * GIT_INDEX_FILE would point it at another repository or index) and with STRICT_CONFIG.
 */
function git(cwd: string, args: string[], okCodes: number[] = [0], input?: string): Promise<string> {
  const env: NodeJS.ProcessEnv = { GIT_OPTIONAL_LOCKS: '0' }
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('GIT_')) env[name] = value
  const configArgs = STRICT_CONFIG.flatMap((setting) => ['-c', setting])
  return new Promise((resolve, reject) => {
    const child = execFile('git', [...configArgs, ...args], { cwd, env, maxBuffer: 1024 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : undefined
      if (code !== undefined && okCodes.includes(code)) resolve(stdout)
      else reject(error !== null && stderr ? Object.assign(error, { message: `git ${args[0]}: ${stderr.trim()}` }) : (error ?? new Error('git failed')))
    })
    child.stdin?.on('error', () => undefined)
    child.stdin?.end(input ?? '')
  })
}

function isNoGit(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT'
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]
}
