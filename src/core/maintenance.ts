import { DeploySettings } from '../config/settings'
import { Connection } from '../ssh/connection'
import { planBase, planList } from '../remote/plan'
import { listScript, unlockScript } from '../remote/scripts'
import { Reporter } from './reporter'
import { lastResult } from '../ssh/protocol'
import { remoteFailure } from './errors'
import { ReleaseInfo, parseReleases } from './releases'

/** What is on the server: releases (newest first), and who holds the lock, if anyone. */
export async function listOn(host: Connection, settings: DeploySettings): Promise<{ releases: ReleaseInfo[]; lockHolder?: string }> {
  const result = await host.run(listScript(planList(settings)))
  if (result.code !== 0) throw remoteFailure(result, host.name)
  return { releases: parseReleases(result), lockHolder: lastResult(result, 'lock') }
}

/** Removes a lock left behind; returns who held it ('' when there was none). */
export async function unlockOn(host: Connection, settings: DeploySettings, reporter: Reporter): Promise<string> {
  const result = await host.run(unlockScript(planBase(settings)), { onLog: reporter.info })
  if (result.code !== 0) throw remoteFailure(result, host.name)
  return lastResult(result, 'unlocked') ?? ''
}
