import { Connection, RunOptions } from '../ssh/connection'
import { ScriptResult, lastResult } from '../ssh/protocol'
import { PlanBase } from '../remote/plan'
import { recoverScript } from '../remote/scripts'
import { remoteFailure } from './errors'

/** Opens a new connection to host `index` (with `retries`), which from then on stands for the lost one. */
export type Reopen = (index: number) => Promise<Connection>

/** Where a host really is, as the recover script found it on a new connection. */
export interface HostState {
  connection: Connection
  /** The release current now ('' for none). */
  current: string
  /** The releases log says this run's switch happened (current may have moved on since). */
  switchLogged: boolean
  /** This run holds the lock again, for the phase sent next. */
  lockHeld: boolean
}

/** The connection could not be opened again, or the recover script did not answer. */
export class ReconnectError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ReconnectError'
  }
}

/**
 * After a host's connection was lost (or its script killed): connects again,
 * stops what is left of this run's script there, and reads the real current,
 * whether the switch was logged, and whether this run holds the lock.
 * Rejects with a ReconnectError saying why when the host cannot be reached.
 */
export async function reconnect(reopen: Reopen, index: number, plan: PlanBase, name: string, options: RunOptions, live?: Connection): Promise<HostState> {
  if (live) {
    // The script was killed, but its connection answered the exit signal: it may serve the check.
    const state = await inspectOver(live, plan, options).catch(() => undefined)
    if (state) return state
  }
  let connection: Connection
  try {
    connection = await reopen(index)
  } catch (error) {
    throw new ReconnectError(`could not reconnect to ${name} (${(error as Error).message})`)
  }
  let result: ScriptResult
  try {
    result = await connection.run(recoverScript(plan), options)
  } catch (error) {
    throw new ReconnectError(`reconnected to ${name}, but the check did not start (${(error as Error).message})`)
  }
  if (result.code !== 0) throw new ReconnectError(`reconnected to ${name}, but the check failed: ${remoteFailure(result, name).message}`)
  return stateFrom(connection, plan, result)
}

async function inspectOver(connection: Connection, plan: PlanBase, options: RunOptions): Promise<HostState | undefined> {
  const result = await connection.run(recoverScript(plan), options)
  return result.code === 0 ? stateFrom(connection, plan, result) : undefined
}

function stateFrom(connection: Connection, plan: PlanBase, result: ScriptResult): HostState {
  return {
    connection,
    current: lastResult(result, 'current') ?? '',
    switchLogged: lastResult(result, 'switched') === plan.releaseId,
    lockHeld: lastResult(result, 'lock') === 'held'
  }
}
