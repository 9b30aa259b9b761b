import { ScriptResult, lastResult } from '../ssh/protocol'
import { EXIT_HINTS } from '../remote/exit-codes'
import type { HostResult } from './results'

/** A deploy that failed on the server; the message says where, what, and what to do. */
export class RemoteError extends Error {
  constructor(
    message: string,
    readonly step: string,
    readonly exitCode: number | null
  ) {
    super(message)
    this.name = 'RemoteError'
  }
}

/** A deploy that failed somewhere; `results` says which host is on which release. */
export class DeployError extends Error {
  constructor(
    message: string,
    readonly results: HostResult[],
    readonly step: string
  ) {
    super(message)
    this.name = 'DeployError'
  }
}

/** The step a failure happened in, for summaries: before connecting when no server was reached. */
export function failedStep(error: Error): string {
  return error instanceof RemoteError || error instanceof DeployError ? error.step : 'before connecting'
}

/** The error for a script that did not succeed: host, step, what the script said, and what to do. */
export function remoteFailure(result: ScriptResult, hostName: string): RemoteError {
  const step = lastResult(result, 'step') ?? 'start'
  const error = lastResult(result, 'error')
  if (result.code === null && result.signal) {
    const signal = result.signal.startsWith('SIG') ? result.signal : `SIG${result.signal}`
    return new RemoteError(`${hostName}: the remote script was killed (${signal}) during step ${step}. ${tail(result.stderr)}`.trim(), step, null)
  }
  if (result.code === null) {
    return new RemoteError(`${hostName}: the connection was lost during step ${step}. ${tail(result.stderr)}`.trim(), step, null)
  }
  const detail = error ?? `the remote script exited with status ${result.code}. ${tail(result.stderr)}`.trim()
  const hint = EXIT_HINTS[result.code] ?? ''
  return new RemoteError(`${hostName}, step ${step}: ${detail}. ${hint}`.trim(), step, result.code)
}

function tail(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean)
  return lines.length ? `Last output: ${lines.slice(-5).join(' | ')}` : ''
}
