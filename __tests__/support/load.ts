/**
 * The bounded load of the zero-downtime and stack tests: a few request loops
 * on one keep-alive agent, each body checked whole against the pattern of its
 * page and against the releases that may be served at that moment.
 */
import * as http from 'http'

export const LOOPS = 4
/**
 * The load ends when the scenario has made its switches; these bounds are
 * only guards against a hang, ten times what a busy 2-core machine needs
 * (about 30 s for the 10 switches).
 */
export const LOAD_MAX_MS = 300_000
export const LOAD_MAX_REQUESTS = 3_000_000
const REQUEST_TIMEOUT_MS = 5_000

/** Paths requested in turn, each with a pattern its whole body must match; group 1 names the release. */
export type Pages = Record<string, RegExp>

/** One answered request whose body named a release deployed by then. */
export interface Answer {
  startedAt: number
  endedAt: number
  id: string
}

export interface LoadReport {
  requests: number
  durationMs: number
  /** Why the loops ended: the caller stopped them, or a bound was reached. */
  stoppedBy: 'caller' | 'time' | 'count'
  non2xx: number
  connectionErrors: number
  /** Bodies that are not a whole file naming a release deployed by then. */
  badBodies: number
  /** Every body received, with how many times. */
  bodies: Map<string, number>
  idsSeen: Set<string>
  /** Every good answer in the order it ended, with its times (Date.now()). */
  answers: Answer[]
  /** The first few failures, with what was going on at the time. */
  samples: string[]
}

export interface Load {
  /** True once the loops ended on their own, at a bound (time or count). */
  ended(): boolean
  /** Ends the loops (each finishes its request in flight) and returns the report. */
  stop(): Promise<LoadReport>
}

/**
 * Starts LOOPS request loops on one keep-alive agent (or, with `keepAlive:
 * false`, a connection a request, as a proxy in front of an app server opens
 * them), taking the pages in turn. `allowed` holds the release ids that may
 * be served at this moment (a deploy adds its id before it starts); `phase`
 * says what the test is doing, for the failure samples.
 */
export function startLoad(port: number, pages: Pages, allowed: ReadonlySet<string>, phase: () => string, options: { keepAlive?: boolean } = {}): Load {
  const agent = new http.Agent({ keepAlive: options.keepAlive ?? true, maxSockets: LOOPS })
  const paths = Object.keys(pages)
  const started = Date.now()
  const deadline = started + LOAD_MAX_MS
  const report: LoadReport = {
    requests: 0,
    durationMs: 0,
    stoppedBy: 'caller',
    non2xx: 0,
    connectionErrors: 0,
    badBodies: 0,
    bodies: new Map(),
    idsSeen: new Set(),
    answers: [],
    samples: []
  }
  let stopping = false
  const sample = (what: string): void => {
    if (report.samples.length < 20) report.samples.push(`${Date.now() - started} ms, during ${phase()}: ${what}`)
  }

  const get = (page: string): Promise<{ status: number; body: string } | { error: string }> =>
    new Promise((resolve) => {
      const request = http.get({ host: '127.0.0.1', port, path: page, agent }, (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
        response.on('error', (error) => resolve({ error: `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}` }))
      })
      request.setTimeout(REQUEST_TIMEOUT_MS, () => request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)))
      request.on('error', (error) => resolve({ error: `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}` }))
    })

  const loop = async (n: number): Promise<void> => {
    for (let i = n; ; i++) {
      if (stopping) return
      if (Date.now() >= deadline) {
        report.stoppedBy = 'time'
        return
      }
      if (report.requests >= LOAD_MAX_REQUESTS) {
        report.stoppedBy = 'count'
        return
      }
      const page = paths[i % paths.length]
      report.requests++
      const startedAt = Date.now()
      const result = await get(page)
      if ('error' in result) {
        report.connectionErrors++
        sample(`GET ${page}: connection error ${result.error}`)
        continue
      }
      report.bodies.set(result.body, (report.bodies.get(result.body) ?? 0) + 1)
      if (result.status < 200 || result.status > 299) {
        report.non2xx++
        sample(`GET ${page}: HTTP ${result.status} ${JSON.stringify(result.body.slice(0, 80))}`)
        continue
      }
      const id = pages[page].exec(result.body)?.[1]
      if (!id || !allowed.has(id)) {
        report.badBodies++
        sample(`GET ${page}: body ${JSON.stringify(result.body.slice(0, 80))} names ${id ? `release ${id}, not deployed by then` : 'no release'}`)
        continue
      }
      report.idsSeen.add(id)
      report.answers.push({ startedAt, endedAt: Date.now(), id })
    }
  }
  const loops = Array.from({ length: LOOPS }, (_, n) => loop(n))

  return {
    ended: () => report.stoppedBy !== 'caller',
    stop: async () => {
      stopping = true
      await Promise.all(loops)
      agent.destroy()
      report.durationMs = Date.now() - started
      return report
    }
  }
}

export const failuresOf = (report: LoadReport): number => report.non2xx + report.connectionErrors + report.badBodies

export function describeLoad(label: string, report: LoadReport): string {
  const seconds = report.durationMs / 1000
  return (
    `[${label}] ${report.requests} requests in ${seconds.toFixed(1)} s ` +
    `(${Math.round(report.requests / seconds)}/s, ${LOOPS} loops, stopped by ${report.stoppedBy}); ` +
    `non-2xx ${report.non2xx}, connection errors ${report.connectionErrors}, bad bodies ${report.badBodies}; ` +
    `releases seen: ${[...report.idsSeen].sort().join(' ')}` +
    (report.samples.length ? `\n  first failures:\n  ${report.samples.join('\n  ')}` : '')
  )
}

/** One plain request, outside the load, to see what is served now. */
export async function fetchOnce(port: number, page: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${page}`)
  return `${response.status} ${await response.text()}`
}
