import { formatBytes, textTable } from '../config/format'
import { WireCompression } from '../config/settings'

/** How one host came out of a run; the `results` output holds one per host. */
export interface HostResult {
  host: string
  /** The release current on this host after the run. */
  releaseId: string
  previousReleaseId: string
  status: 'deployed' | 'failed' | 'not-switched' | 'reverted' | 'bad' | 'rolled-back' | 'listed' | 'unlocked'
  error?: string
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
}

/** One host by name, several by count: for headings. */
export function describeFleet(hosts: Array<{ name: string }>): string {
  return hosts.length === 1 ? hosts[0].name : `${hosts.length} hosts`
}

/** Which host is on which release, for the log (the job summary has the same as Markdown). */
export function resultsTable(results: HostResult[]): string {
  return textTable([
    ['host', 'status', 'current', 'previous', 'seconds', 'uploaded'],
    ...results.map((r) => [r.host, r.status, r.releaseId, r.previousReleaseId, r.seconds.toFixed(1), formatBytes(r.bytesUploaded)])
  ])
}
