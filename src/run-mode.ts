import { DeploySettings, Mode } from './settings'
import { RemoteHost } from './transport'
import { Reporter } from './report'
import { DeployOutcome, deployOn } from './deploy'
import { rollbackOn } from './rollback'
import { listOn, unlockOn } from './maintenance'
import { ReleaseInfo, releasesTable } from './releases'

/** What any mode leaves behind, for outputs and summaries. */
export interface ModeOutcome {
  mode: Mode
  host: string
  /** The release now current. */
  releaseId: string
  previousReleaseId: string
  releases: ReleaseInfo[]
  deploy?: DeployOutcome
  /** unlock: who held the lock ('' when there was none). */
  unlockedHolder?: string
  seconds: number
}

/** The core entry point shared by every front end: one connection, one mode, then the release list. */
export async function runMode(settings: DeploySettings, reporter: Reporter): Promise<ModeOutcome> {
  const started = Date.now()
  const host = await reporter.group(`Connecting to ${settings.target.host}`, () => RemoteHost.connect(settings))
  try {
    const outcome: ModeOutcome = { mode: settings.mode, host: host.name, releaseId: '', previousReleaseId: '', releases: [], seconds: 0 }
    if (settings.mode === 'deploy') {
      outcome.deploy = await deployOn(host, settings, reporter)
      outcome.releaseId = outcome.deploy.releaseId
      outcome.previousReleaseId = outcome.deploy.previousReleaseId
    } else if (settings.mode === 'rollback') {
      Object.assign(outcome, await rollbackOn(host, settings, reporter))
    } else if (settings.mode === 'unlock') {
      outcome.unlockedHolder = await unlockOn(host, settings, reporter)
    }
    const listed = await listOn(host, settings)
    outcome.releases = listed.releases
    if (settings.mode === 'list' || settings.mode === 'unlock') {
      const current = listed.releases.find((r) => r.current)
      outcome.releaseId = current?.id ?? ''
      const index = listed.releases.findIndex((r) => r.current)
      outcome.previousReleaseId = listed.releases.slice(index + 1).find((r) => !r.bad)?.id ?? ''
    }
    if (settings.mode === 'list') {
      reporter.info(releasesTable(listed.releases))
      if (listed.lockHolder) reporter.info(`locked by ${listed.lockHolder}`)
    }
    outcome.seconds = (Date.now() - started) / 1000
    return outcome
  } finally {
    host.close()
  }
}
