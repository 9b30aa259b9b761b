import { DeploySettings } from '../config/settings'
import { Connection } from '../ssh/connection'
import { planRollback } from '../remote/plan'
import { rollbackScript } from '../remote/scripts'
import { Reporter } from './reporter'
import { lastResult } from '../ssh/protocol'
import { remoteFailure } from './errors'

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
  return { releaseId: lastResult(result, 'current') ?? '', previousReleaseId: lastResult(result, 'previous') ?? '' }
}
