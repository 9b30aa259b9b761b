import { ScriptResult, allResults, lastResult } from '../ssh/protocol'
import { textTable } from '../config/format'

/** One release on the server, as the `releases` output shows it. */
export interface ReleaseInfo {
  id: string
  /** When it was deployed (UTC, ISO 8601), from the releases log. */
  created?: string
  sha?: string
  actor?: string
  run?: string
  current: boolean
  /** Failed after the switch, or rolled back from: a rollback skips it. */
  bad: boolean
  /** The releases log names it (the server prunes only such releases). */
  logged: boolean
}

interface LogEvent {
  event: string
  id: string
  time?: string
  sha?: string
  actor?: string
  run?: string
}

/**
 * Builds the release list for display (the `releases` output and the table)
 * from what the list script printed: folders on disk, the log, and current.
 * It decides nothing: which release a rollback goes to and what a deploy
 * prunes, the server reports itself (see maintenance.ts).
 */
export function parseReleases(result: ScriptResult): ReleaseInfo[] {
  const current = lastResult(result, 'current') ?? ''
  const onDisk = allResults(result, 'release')
  const events = allResults(result, 'log').flatMap(parseLogLine)
  const position = new Map<string, number>()
  const deployedBy = new Map<string, LogEvent>()
  const bad = new Map<string, boolean>()
  const logged = new Set(events.map((event) => event.id))
  events.forEach((event, index) => {
    if (event.event === 'deployed') {
      position.set(event.id, index)
      deployedBy.set(event.id, event)
      bad.set(event.id, false)
    } else if (event.event === 'rolled-back') {
      bad.set(event.id, false)
    } else if (['failed', 'reverted', 'marked-bad'].includes(event.event)) {
      bad.set(event.id, true)
    }
  })
  return onDisk
    .map((id) => {
      const deployed = deployedBy.get(id)
      return {
        id,
        created: deployed?.time,
        sha: deployed?.sha,
        actor: deployed?.actor,
        run: deployed?.run,
        current: id === current,
        bad: bad.get(id) ?? false,
        logged: logged.has(id)
      }
    })
    .sort((a, b) => (position.get(b.id) ?? -1) - (position.get(a.id) ?? -1) || (a.id < b.id ? 1 : -1))
}

/** One line of the releases log; a line that is not an event the log writes is passed over. */
function parseLogLine(line: string): LogEvent[] {
  let event: unknown
  try {
    event = JSON.parse(line)
  } catch {
    return []
  }
  return isLogEvent(event) ? [event] : []
}

function isLogEvent(value: unknown): value is LogEvent {
  if (typeof value !== 'object' || value === null) return false
  const fields = value as Record<string, unknown>
  return typeof fields.id === 'string' && typeof fields.event === 'string'
}

/** The releases as a fixed-width table for the log. */
export function releasesTable(releases: ReleaseInfo[]): string {
  if (releases.length === 0) return '(no releases)'
  return textTable([
    ['', 'release', 'deployed (UTC)', 'commit', 'actor', 'state'],
    ...releases.map((r) => [r.current ? '*' : '', r.id, r.created ?? '', (r.sha ?? '').slice(0, 7), r.actor ?? '', r.bad ? 'bad' : 'ok'])
  ])
}

/**
 * What is on one server, as its list script reports it. The server decides
 * which release a rollback goes to and which releases a deploy prunes (its
 * shell functions rank the releases); the runner only passes that on.
 */
export interface ServerListing {
  host: string
  /** Releases for display, newest first (decides nothing). */
  releases: ReleaseInfo[]
  /** The release current now ('' when there is none). */
  current: string
  /** Who holds the lock, if anyone. */
  lockHolder?: string
  /** The release a rollback without release-id would switch to ('' when none); undefined: not reported. */
  rollbackTarget?: string
  /** Given a would-be release: what its deploy would prune; undefined: not reported. */
  wouldPrune?: string[]
}
