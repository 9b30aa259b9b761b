/**
 * The result protocol between the remote scripts and the runner. A script
 * writes step banners and errors to stderr, and on stdout only lines of the
 * form `@@<key> <value>`; these are every key it may write.
 */
export const RESULT_KEYS = {
  /** The step that is running (the last one names where a failure happened). */
  step: 'step',
  /** Why the script failed, in words for the user. */
  error: 'error',
  /** The release that was current when the script started ('' on a first deploy). */
  previous: 'previous',
  /** The new release is current now (written by the switch, read back). */
  switched: 'switched',
  /** The release current when the script ended. */
  current: 'current',
  /** Space-separated ids of the releases a prune removed. */
  pruned: 'pruned',
  /** The phase ran to its end. */
  finished: 'finished',
  /** A tool the server has (zstd, gzip, sha256sum); one line each. */
  has: 'has',
  /** Why the upload cache cannot be used. */
  cacheMiss: 'cache-miss',
  /** The upload cache is usable; the value is its manifest's digest. */
  cacheOk: 'cache-ok',
  /** A release folder on the server; one line each. */
  release: 'release',
  /** A line of the releases log; one line each, in order. */
  log: 'log',
  /** Who holds the deploy lock. */
  lock: 'lock',
  /** unlock: who held the lock that was removed ('' when there was none). */
  unlocked: 'unlocked',
  /** list: the release a rollback would switch to ('' when there is none). */
  rollbackTarget: 'rollback-target',
  /** list, given a would-be new release: space-separated ids a deploy of it would prune. */
  wouldPrune: 'would-prune',
  /** finish, switch-and-finish, rollback: the release list (current, release, log lines) came whole, so no list script is needed. */
  listed: 'listed',
  /** health: the checks passed; the value is how many tries it took. */
  healthy: 'healthy',
  /** health: what the last try saw of one failing check (URL, status, body; or the command's output). */
  probe: 'probe'
} as const

export type ResultKey = (typeof RESULT_KEYS)[keyof typeof RESULT_KEYS]

/** The manifest block of the inspect script sits between these two stdout lines. */
export const MANIFEST_FOLLOWS = '@@manifest-follows'
export const MANIFEST_ENDS = '@@manifest-ends'

/** What one remote script printed and how it ended. */
export interface ScriptResult {
  code: number | null
  /** The signal that ended the remote script, if one did. */
  signal?: string | null
  /** `@@key value` lines, in order. */
  results: Array<[string, string]>
  /** Everything the script printed on stdout. */
  stdout: string
  stderr: string
}

/** The last value the script gave for `key`. */
export function lastResult(result: ScriptResult, key: ResultKey): string | undefined {
  return result.results.filter(([k]) => k === key).pop()?.[1]
}

/** Every value the script gave for `key`, in order. */
export function allResults(result: ScriptResult, key: ResultKey): string[] {
  return result.results.filter(([k]) => k === key).map(([, value]) => value)
}

/** Parses one stdout line; undefined when it is not a result line. */
export function parseResultLine(line: string): [string, string] | undefined {
  const match = /^@@(\S+) ?(.*)$/.exec(line)
  return match ? [match[1], match[2]] : undefined
}

/** The text between the manifest markers on stdout, when both are there. */
export function manifestBlock(result: ScriptResult): string | undefined {
  const start = result.stdout.indexOf(`${MANIFEST_FOLLOWS}\n`)
  const end = result.stdout.lastIndexOf(`${MANIFEST_ENDS}\n`)
  return start < 0 || end < start ? undefined : result.stdout.slice(start + MANIFEST_FOLLOWS.length + 1, end)
}
