import { DeploySettings } from '../config/settings'
import { AbortPlan, PlanBase, planBase } from '../remote/plan'
import { abortScript } from '../remote/scripts'
import { Connector, connectRemote } from '../ssh/connection'
import { PendingCleanup, Reporter } from './reporter'
import { remoteFailure } from './errors'
import { settleLimit } from './parallel'

/** What the post step needs to undo this deploy, should the job be cancelled. */
export function cleanupFor(settings: DeploySettings, plan: PlanBase): PendingCleanup {
  return { hosts: settings.targets, deployPath: plan.deployPath, releaseId: plan.releaseId, lockToken: plan.lockToken, logFields: plan.logFields }
}

/**
 * Undoes a deploy that never finished, on every host it may have reached:
 * stops what is left of it, removes its release unless it became current,
 * and frees its lock (only its own). Used by the action's post step;
 * `connect` opens each connection (tests pass one that returns fakes).
 */
export async function abortUnfinished(settings: DeploySettings, cleanup: PendingCleanup, reporter: Reporter, connect: Connector = connectRemote): Promise<void> {
  const plan: AbortPlan = {
    ...planBase(settings),
    deployPath: cleanup.deployPath,
    releaseId: cleanup.releaseId,
    lockToken: cleanup.lockToken,
    logFields: cleanup.logFields
  }
  const settled = await settleLimit(cleanup.hosts, settings.maxParallel, async (target) => {
    const host = await connect(settings, target)
    try {
      const result = await host.run(abortScript(plan), { onLog: reporter.info })
      if (result.code !== 0) throw remoteFailure(result, host.name)
    } finally {
      host.close()
    }
  })
  const failures = settled.flatMap((s) => (s.ok ? [] : [s.error.message]))
  if (failures.length) throw new Error(failures.join('\n'))
}
