import { HostAddress } from '../config/settings'

/** How the core talks to whoever runs it (the action, the CLI, a test); the core never imports a front end. */
export interface Reporter {
  info: (line: string) => void
  warning: (line: string) => void
  /** Runs `work` inside a named, collapsible section of the log. */
  group: <T>(title: string, work: () => Promise<T>) => Promise<T>
  /**
   * Called with what a later process needs to undo a half-done deploy (the
   * action's post step), and with `undefined` once nothing is left to undo.
   */
  rememberCleanup: (cleanup: PendingCleanup | undefined) => void
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
