import { ScriptResult } from './transport'
import { HostAddress } from './settings'
import { EXIT_HINTS } from './remote-script/exit-codes'

/** How the core talks to whoever runs it (the action, the CLI, a test); the core never imports a front end. */
export interface Reporter {
  info(line: string): void
  warning(line: string): void
  /** Runs `work` inside a named, collapsible section of the log. */
  group<T>(title: string, work: () => Promise<T>): Promise<T>
  /**
   * Called with what a later process needs to undo a half-done deploy (the
   * action's post step), and with `undefined` once nothing is left to undo.
   */
  rememberCleanup(cleanup: PendingCleanup | undefined): void
}

/** Enough to find and free this run's lock and remove its unfinished release. */
export interface PendingCleanup {
  /** The hosts that may hold this run's lock. */
  hosts: HostAddress[]
  deployPath: string
  releaseId: string
  lockToken: string
  logFields: string
}

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

export function lastResult(result: ScriptResult, key: string): string | undefined {
  return result.results.filter(([k]) => k === key).pop()?.[1]
}

export function remoteFailure(result: ScriptResult, hostName: string): RemoteError {
  const step = lastResult(result, 'step') ?? 'start'
  const error = lastResult(result, 'error')
  if (result.code === null && result.signal) {
    return new RemoteError(`${hostName}: the remote script was killed (${result.signal.startsWith("SIG") ? "" : "SIG"}${result.signal}) during step ${step}. ${tail(result.stderr)}`.trim(), step, null)
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

/** A reporter for plain terminals and tests. */
export function consoleReporter(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Reporter {
  return {
    info: write,
    warning: (line) => write(`warning: ${line}`),
    group: async (title, work) => {
      write(`== ${title}`)
      return work()
    },
    rememberCleanup: () => undefined
  }
}
