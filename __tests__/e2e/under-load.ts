/**
 * The scenario of the zero-downtime and stack tests: a first deploy, then a
 * plan of deploys and rollbacks through the committed bundle while the
 * bounded load runs, with a model of the releases log that says which
 * release each operation must make current.
 */
import * as fs from 'fs'
import * as path from 'path'
import { expect } from 'vitest'
import { TestServer } from './sshd-harness'
import { ActionRun, connectionInputs, makeWorkspace, runAction } from './run-action'
import { LoadReport, Pages, fetchOnce, startLoad } from '../support/load'

export const RELEASES = Array.from({ length: 6 }, (_, i) => `r${String(i + 1).padStart(2, '0')}`)

/**
 * What runs under load, in order: deploys of r02..r06 with rollbacks in
 * between, both to the previous good release (which marks the one rolled
 * away from bad) and by id: 10 switches, 11 with the first deploy, which
 * runs before the load. The load stops when they are done.
 */
export const PLAN = [
  'deploy r02', 'rollback',
  'deploy r03', 'deploy r04', 'rollback', 'rollback to r04',
  'deploy r05', 'deploy r06', 'rollback', 'rollback to r06'
] // prettier-ignore

/** What is deployed and how it is served. */
export interface Site {
  /** The deploy root on the server. */
  root: string
  /** Where the load and the checks send their requests (127.0.0.1). */
  port: number
  pages: Pages
  /** The workspace of release `id`: path -> content. */
  files(id: string): Record<string, string>
  /** Inputs added to every deploy and rollback (hooks). */
  inputs?: Record<string, string>
  /** false: the load opens a connection a request (see startLoad). */
  keepAlive?: boolean
}

/** One operation that made a release current. */
export interface Switch {
  id: string
  /** When the operation started (Date.now()). */
  startedAt: number
  /** When its output first said that current was switched (the bundle's log line). */
  switchedAt: number
  /** When the operation had ended, after-activate included. */
  endedAt: number
  /** What the site served once the operation had ended: the first page's release id, or the whole answer. */
  servedAfter: string
}

export interface LoadRun {
  report: LoadReport
  /** The switches made under load (the first deploy is not one). */
  switches: number
  /** Every switch in order, the first deploy's included. */
  timeline: Switch[]
  /** What the first page served once everything had ended. */
  servedAtEnd: string
}

/** The line the bundle prints once current points at the release, read back (switch_to in lib/current.sh). */
const SWITCHED = /current -> releases\//

/**
 * Deploys r01 (with `probe.hook` as its before-activate, and `probe.check`
 * run on its result before anything else), starts the load, then runs `plan`
 * through the bundle, checking after each operation that current is where
 * the action and a model of the releases log say.
 */
export async function deployUnderLoad(
  label: string,
  server: TestServer,
  site: Site,
  options: { plan?: string[]; probe?: { hook: string; check(run: ActionRun): void } } = {}
): Promise<LoadRun> {
  const plan = options.plan ?? PLAN
  const { root, port, pages } = site
  const firstPage = Object.keys(pages)[0]
  const base = { ...connectionInputs(server), path: root, keep: '20', ...site.inputs }
  const allowed = new Set<string>()
  // A model of the releases log: ids in deploy order, the order in which they
  // last became current (a rollback's target is the latest good one of those
  // other than current), the ones marked bad.
  const deployed: string[] = []
  const activated: string[] = []
  const bad = new Set<string>()
  const timeline: Switch[] = []
  const activate = (id: string): void => {
    activated.splice(activated.indexOf(id) >>> 0, activated.includes(id) ? 1 : 0)
    activated.push(id)
  }
  let current = ''
  let phase = 'warm-up'

  const served = async (): Promise<string> => {
    const answer = await fetchOnce(port, firstPage).catch((error: Error) => `no answer: ${error.message}`)
    return pages[firstPage].exec(answer.replace(/^200 /, ''))?.[1] ?? answer
  }
  const run = async (inputs: Record<string, string>, expected: string): Promise<ActionRun> => {
    const startedAt = Date.now()
    let switchedAt = 0
    const result = await runAction({ ...base, ...inputs }, { onOutput: (soFar) => (switchedAt ||= SWITCHED.test(soFar) ? Date.now() : 0) })
    expect(result.code, `${phase}:\n${result.stdout}\n${result.stderr}`).toBe(0)
    expect(result.outputs['release-id'], phase).toBe(expected)
    expect(fs.readlinkSync(path.join(root, 'current')), phase).toBe(`releases/${expected}`)
    expect(switchedAt, `${phase}: the bundle's output never said that current was switched:\n${result.stdout}`).toBeGreaterThan(0)
    timeline.push({ id: expected, startedAt, switchedAt, endedAt: Date.now(), servedAfter: await served() })
    current = expected
    activate(expected)
    return result
  }
  const deploy = async (id: string, hook = ''): Promise<ActionRun> => {
    phase = `deploy ${id}`
    allowed.add(id) // from here on the site may serve it
    const source = makeWorkspace(site.files(id))
    try {
      const result = await run({ 'release-id': id, source, ...(hook ? { 'before-activate': hook } : {}) }, id)
      deployed.push(id)
      return result
    } finally {
      fs.rmSync(source, { recursive: true, force: true })
    }
  }
  const rollback = async (to?: string): Promise<void> => {
    phase = `rollback from ${current}${to ? ` to ${to}` : ''}`
    let expected = to
    if (!expected) {
      const candidates = activated.filter((id) => id !== current && !bad.has(id))
      expected = candidates[candidates.length - 1]
      bad.add(current)
    }
    await run(to ? { mode: 'rollback', 'release-id': to } : { mode: 'rollback' }, expected)
    bad.delete(expected)
  }

  const firstStarted = Date.now()
  const first = await deploy(RELEASES[0], options.probe?.hook)
  const unloaded = Date.now() - firstStarted
  options.probe?.check(first)
  expect(timeline[0].servedAfter, 'the first release is served before the load starts').toBe(RELEASES[0])

  let switches = 0
  const started = Date.now()
  const load = startLoad(port, pages, allowed, () => phase, { keepAlive: site.keepAlive })
  let report: LoadReport
  try {
    for (const step of plan) {
      if (load.ended()) break // the load hit a bound: the rest would prove nothing
      const words = step.split(' ') // 'deploy <id>', 'rollback' or 'rollback to <id>'
      if (words[0] === 'deploy') await deploy(words[1])
      else await rollback(words[2])
      switches++
    }
  } finally {
    phase = 'cool-down'
    report = await load.stop()
  }
  console.log(
    `[${label}] ${switches} switches through dist/index.js in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(the first deploy, before the load: ${(unloaded / 1000).toFixed(1)} s)`
  )
  const planned = [RELEASES[0], ...plan.filter((step) => step.startsWith('deploy ')).map((step) => step.split(' ')[1])]
  if (!load.ended()) expect(deployed).toEqual(planned)
  return { report, switches, timeline, servedAtEnd: await served() }
}

/**
 * Answers that named another release than the one current when they were
 * sent: a request started after switch k was logged (or, with `from:
 * 'endedAt'`, after operation k had ended, its after-activate included) must
 * get release k, or release k+1 if it ended after the operation making k+1
 * current had begun.
 */
export function staleAnswers(run: LoadRun, from: 'switchedAt' | 'endedAt' = 'switchedAt'): number {
  const { timeline, report } = run
  let stale = 0
  for (const answer of report.answers) {
    let k = -1
    while (k + 1 < timeline.length && timeline[k + 1][from] <= answer.startedAt) k++
    if (k < 0) continue // sent before the first switch was logged: not possible under the load
    const next = timeline[k + 1]
    const fresh = answer.id === timeline[k].id || (next !== undefined && answer.id === next.id && answer.endedAt >= next.startedAt)
    if (!fresh) stale++
  }
  return stale
}
