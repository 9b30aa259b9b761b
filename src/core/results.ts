import { formatBytes, textTable } from '../config/format'
import { WireCompression } from '../config/settings'
import { ServerListing } from './releases'

/** How one host came out of a run; the `results` output holds one per host. */
export interface HostResult {
  host: string
  /** The release current on this host after the run. */
  releaseId: string
  previousReleaseId: string
  /** unhealthy: failed its health check (switched back with revert-on-failure, when there was a release to go back to). */
  status: 'deployed' | 'failed' | 'not-switched' | 'reverted' | 'unhealthy' | 'bad' | 'rolled-back' | 'listed' | 'unlocked'
  error?: string
  /** Seconds its health check took, when one ran. */
  healthSeconds?: number
  /** unlock: who held the lock that was removed. */
  lockHolder?: string
  seconds: number
  bytesUploaded: number
}

export interface DeployOutcome {
  releaseId: string
  /** The release current before, on the first host ('' on a first deploy). */
  previousReleaseId: string
  results: HostResult[]
  /** Releases removed on the first host. */
  pruned: string[]
  files: number
  /** Bytes of the files, before compression. */
  bytes: number
  /** Bytes that went over the wire, all hosts together. */
  bytesSent: number
  compression: WireCompression
  /** The first host's release list, as its last script reported it (undefined: a list script must read it). */
  listing?: ServerListing
}

/** One host by name, several by count: for headings. */
export function describeFleet(hosts: Array<{ name: string }>): string {
  return hosts.length === 1 ? hosts[0].name : `${hosts.length} hosts`
}

/** Which host is on which release, for the log (the job summary has the same as Markdown). */
export function resultsTable(results: HostResult[]): string {
  return textTable([
    ['host', 'status', 'current', 'previous', 'seconds', 'check', 'uploaded'],
    ...results.map((r) => [r.host, r.status, r.releaseId, r.previousReleaseId, r.seconds.toFixed(1), checkSeconds(r), formatBytes(r.bytesUploaded)])
  ])
}

/** How long a host's health check took, for tables ('' when none ran). */
export function checkSeconds(result: HostResult): string {
  return result.healthSeconds === undefined ? '' : `${result.healthSeconds.toFixed(1)} s`
}
