import * as core from '@actions/core'
import { ModeOutcome } from '../core/run-mode'
import { ReleaseInfo } from '../core/releases'
import { HostResult, checkSeconds } from '../core/results'
import { DeployError, failedStep } from '../core/errors'
import { formatBytes } from '../config/format'

/** The job summary (Markdown) for a finished mode. */
export function outcomeSummary(outcome: ModeOutcome, sha?: string): string {
  const title: Record<ModeOutcome['mode'], string> = {
    deploy: outcome.dryRun ? `Dry run: would deploy ${outcome.dryRun.releaseId}, changed nothing` : `Deployed ${outcome.releaseId}`,
    rollback: `Rolled back to ${outcome.releaseId}`,
    list: 'Releases',
    unlock: outcome.unlockedHolder ? 'Lock freed' : 'No lock to free'
  }
  const facts: Array<[string, string]> = [
    ['host', outcome.host],
    ['current release', outcome.releaseId || '(none)'],
    ['previous release', outcome.previousReleaseId || '(none)']
  ]
  if (sha && outcome.mode === 'deploy') facts.push(['commit', sha.slice(0, 12)])
  const d = outcome.deploy
  if (d) {
    facts.push(['files', String(d.files)], ['size', formatBytes(d.bytes)], ['sent', `${formatBytes(d.bytesSent)} (${d.compression})`])
    facts.push(['pruned', d.pruned.length ? d.pruned.join(', ') : 'none'])
  }
  if (outcome.unlockedHolder) facts.push(['lock holder', `\`${outcome.unlockedHolder}\``])
  facts.push(['duration', `${outcome.seconds.toFixed(1)} s`])
  const hosts = outcome.results.length > 1 ? ['', '#### Hosts', '', resultsMarkdown(outcome.results)] : []
  return [`### atomic-deploy: ${title[outcome.mode]}`, '', table(['', ''], facts), ...hosts, '', '#### Releases on the server', '', releasesMarkdown(outcome.releases), ''].join(
    '\n'
  )
}

export function failureSummary(error: Error, mode: string, host: string): string {
  const step = failedStep(error)
  const hosts = error instanceof DeployError ? ['#### Hosts', '', resultsMarkdown(error.results), ''] : []
  return [
    `### atomic-deploy: ${mode} failed`,
    '',
    table(
      ['', ''],
      [
        ['host', host],
        ['step', step]
      ]
    ),
    '',
    ...hosts,
    '```',
    error.message,
    '```',
    ''
  ].join('\n')
}

function resultsMarkdown(results: HostResult[]): string {
  return table(
    ['host', 'status', 'current', 'previous', 'seconds', 'check', 'uploaded', 'error'],
    results.map((r) => [r.host, r.status, r.releaseId, r.previousReleaseId, r.seconds.toFixed(1), checkSeconds(r), formatBytes(r.bytesUploaded), r.error ?? ''])
  )
}

function releasesMarkdown(releases: ReleaseInfo[]): string {
  if (releases.length === 0) return '(none)'
  return table(
    ['release', 'deployed (UTC)', 'commit', 'actor', 'state'],
    releases.map((r) => [r.current ? `**${r.id}** (current)` : r.id, r.created ?? '', (r.sha ?? '').slice(0, 7), r.actor ?? '', r.bad ? 'bad' : 'ok'])
  )
}

function table(header: string[], rows: string[][]): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|').replace(/\n/g, ' ')
  return [header, header.map(() => '---'), ...rows].map((row) => `| ${row.map(escape).join(' | ')} |`).join('\n')
}

/** Appends to the job summary when the runner provides one; a summary never fails the step. */
export async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  await core.summary
    .addRaw(markdown)
    .write()
    .catch((error: Error) => core.warning(`Could not write the job summary: ${error.message}`))
}
