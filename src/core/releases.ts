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
  /** The releases log names it; pruning only ever removes such releases. */
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

/** Builds the release list from what the list script printed: folders on disk, the log, and current. */
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

function parseLogLine(line: string): LogEvent[] {
  try {
    const event = JSON.parse(line)
    return typeof event?.id === 'string' && typeof event?.event === 'string' ? [event] : []
  } catch {
    return []
  }
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
 * Which releases a deploy of `newId` would prune: the same rule as the remote
 * prune (keep the current one and the newest good ones, up to `keep`; only
 * releases the log knows), for the dry run.
 */
export function wouldPrune(releases: ReleaseInfo[], newId: string, keep: number): string[] {
  const kept = new Set([newId])
  for (const release of releases) {
    if (kept.size >= keep) break
    if (!release.bad && release.created) kept.add(release.id)
  }
  return releases.filter((r) => r.logged && !kept.has(r.id)).map((r) => r.id)
}
