import { DeploySettings } from '../config/settings'
import { RunOptions, ScriptRunner } from '../ssh/connection'
import { ScriptResult, allResults } from '../ssh/protocol'
import { HealthPlan } from '../remote/plan'
import { expandReleaseId, healthScript } from '../remote/scripts'
import { remoteFailure } from './errors'

/** How one host's health check came out. */
export interface HealthOutcome {
  healthy: boolean
  seconds: number
  /** Why not, with the last probe of each failing check; '' when healthy. */
  failure: string
}

/** The checks run on a host after the switch (or rollback): with none set, there is nothing to run. */
export function checksHealth(plan: HealthPlan): boolean {
  return plan.health !== undefined
}

/** Runs the health script on one host; never rejects (a lost connection is an unhealthy host, said so). */
export async function checkHealthOn(runner: ScriptRunner, plan: HealthPlan, hostName: string, options: RunOptions = {}): Promise<HealthOutcome> {
  const started = Date.now()
  const seconds = (): number => (Date.now() - started) / 1000
  let result: ScriptResult
  try {
    result = await runner.run(healthScript(plan), options)
  } catch (error) {
    return { healthy: false, seconds: seconds(), failure: `${hostName}: the health check did not run (${(error as Error).message})` }
  }
  if (result.code === 0) return { healthy: true, seconds: seconds(), failure: '' }
  return { healthy: false, seconds: seconds(), failure: healthFailure(result, hostName) }
}

/** The failure, then the last probe of each failing check. */
function healthFailure(result: ScriptResult, hostName: string): string {
  const probes = allResults(result, 'probe')
  const base = remoteFailure(result, hostName).message.replace(/\.$/, '')
  return probes.length ? `${base}. Last probe: ${probes.join('; ')}` : base
}

/** What the dry run prints: the checks each host would run after its switch. */
export function describeHealth(settings: DeploySettings): string[] {
  const health = settings.health
  if (!health) return ['health:  no checks (set health-url or health-command)']
  const expect = health.expect ? `, body containing ${JSON.stringify(expandReleaseId(health.expect, settings.releaseId))}` : ''
  const status = health.status.map(([low, high]) => (low === high ? `${low}` : `${low}-${high}`)).join(',')
  return [
    ...health.urls.map((url) => `health:  GET ${url} from each server: status ${status}${expect}`),
    ...(health.command ? [`health:  health-command in the release must exit 0`] : []),
    `health:  within ${health.timeoutSeconds} s, tried every ${health.intervalSeconds} s`
  ]
}
