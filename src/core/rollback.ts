import { DeploySettings } from '../config/settings'
import { Connection } from '../ssh/connection'
import { planHealth, planRollback } from '../remote/plan'
import { rollbackScript } from '../remote/scripts'
import { Reporter } from './reporter'
import { lastResult } from '../ssh/protocol'
import { RemoteError, remoteFailure } from './errors'
import { checkHealthOn } from './health'

export interface RollbackOutcome {
  releaseId: string
  previousReleaseId: string
}

/** Switches current back: to release-id when given, else to the highest-ranked good release other than current (the server's release model decides). */
export async function rollbackOn(host: Connection, settings: DeploySettings, reporter: Reporter): Promise<RollbackOutcome> {
  const plan = planRollback(settings)
  const target = plan.releaseId ? `release ${plan.releaseId}` : 'the previous good release'
  const result = await reporter.group(`Rolling back to ${target} on ${host.name}`, () => host.run(rollbackScript(plan), { onLog: reporter.info }))
  if (result.code !== 0) throw remoteFailure(result, host.name)
  const outcome = { releaseId: lastResult(result, 'current') ?? '', previousReleaseId: lastResult(result, 'previous') ?? '' }
  await checkAfterRollback(host, settings, outcome.releaseId, reporter)
  return outcome
}

/** The health checks run after a rollback too; failing, the rollback fails and says so, and does not bounce back. */
async function checkAfterRollback(host: Connection, settings: DeploySettings, releaseId: string, reporter: Reporter): Promise<void> {
  if (!settings.health || !releaseId) return
  const health = await reporter.group(`Checking the health of ${releaseId} on ${host.name}`, () =>
    checkHealthOn(host, planHealth(settings, releaseId), host.name, { onLog: reporter.info })
  )
  if (health.healthy) return
  throw new RemoteError(
    `${health.failure}. ${host.name} was rolled back to ${releaseId}, which stays current: a rollback does not bounce back. Roll back to another release (release-id), or deploy a fix.`,
    'health',
    null
  )
}
