import { DeploySettings } from '../config/settings'
import { Connection } from '../ssh/connection'
import { Reporter } from './reporter'
import { planRelease } from '../remote/plan'
import { expectedFindLines, listSource } from '../upload/file-list'
import { afterActivateScript, finishScript, prepareScript, switchScript } from '../remote/scripts'
import { listOn } from './maintenance'
import { formatBytes } from '../config/format'
import { ReleaseInfo, wouldPrune } from './releases'

export interface DryRunOutcome {
  releaseId: string
  files: number
  bytes: number
  hosts: Array<{ host: string; current: string; wouldPrune: string[] }>
  /** The scripts a deploy would run on the first host, in order. */
  scripts: Record<string, string>
  releases: ReleaseInfo[]
}

/** Reads the servers (nothing is written), and prints what a deploy would do and the exact scripts it would run. */
export async function dryRunOn(hosts: Connection[], settings: DeploySettings, reporter: Reporter): Promise<DryRunOutcome> {
  const listing = await listSource(settings.sourceDir, settings.exclude)
  const plan = planRelease(settings, expectedFindLines(listing.entries), settings.compression === 'auto' ? 'none' : settings.compression)
  const perHost = await Promise.all(
    hosts.map(async (host) => {
      const { releases } = await listOn(host, settings)
      return { host: host.name, current: releases.find((r) => r.current)?.id ?? '', wouldPrune: wouldPrune(releases, plan.releaseId, plan.keep), releases }
    })
  )
  const scripts = {
    prepare: prepareScript(plan),
    switch: switchScript(plan),
    'after-activate': afterActivateScript(plan),
    finish: finishScript(plan)
  }
  reporter.info('DRY RUN: nothing is uploaded and nothing on the servers changes.')
  reporter.info(`release: ${plan.releaseId}`)
  reporter.info(`upload:  ${listing.entries.length} entries, ${formatBytes(listing.bytes)} from ${settings.sourceDir}`)
  for (const h of perHost) {
    reporter.info(`host:    ${h.host}: current ${h.current || '(none)'}; would prune: ${h.wouldPrune.join(', ') || 'nothing'}`)
  }
  for (const [name, script] of Object.entries(scripts)) {
    await reporter.group(`Remote script: ${name} (run with sh -c over the connection)`, async () => {
      script.trimEnd().split('\n').forEach((line) => reporter.info(line))
    })
  }
  return {
    releaseId: plan.releaseId,
    files: listing.entries.length,
    bytes: listing.bytes,
    hosts: perHost.map(({ releases: _releases, ...rest }) => rest),
    scripts,
    releases: perHost[0].releases
  }
}
