/**
 * A recording fake for the Connection seam: it answers each script by its
 * phase (the header line every generated script has) with the stdout text a
 * server would print, and records every script it was sent.
 */
import { Connection, RunOptions } from '../../src/ssh/connection'
import { ScriptResult, parseResultLine } from '../../src/ssh/protocol'
import { phaseOf } from '../../src/remote/scripts'

export interface Answer {
  stdout: string
  code?: number
}

export class FakeServer implements Connection {
  readonly sent: Array<{ phase: string; script: string }> = []
  closed = false

  constructor(
    readonly name: string,
    private readonly answers: Record<string, Answer>
  ) {}

  run(script: string, options: RunOptions = {}): Promise<ScriptResult> {
    const phase = phaseOf(script) ?? '(unknown)'
    this.sent.push({ phase, script })
    options.stdin?.resume()
    const answer = this.answers[phase]
    if (!answer) return Promise.reject(new Error(`FakeServer ${this.name}: no answer for the ${phase} script`))
    const results = answer.stdout.split('\n').flatMap((line) => {
      const parsed = parseResultLine(line)
      return parsed ? [parsed] : []
    })
    return Promise.resolve({ code: answer.code ?? 0, results, stdout: answer.stdout, stderr: '' })
  }

  close(): void {
    this.closed = true
  }

  /** The phases it was sent, in order. */
  phases(): string[] {
    return this.sent.map((s) => s.phase)
  }

  /** The value a script assigned to a variable (`NAME='value'`), as the shell would read it. */
  static assigned(script: string, name: string): string | undefined {
    const match = new RegExp(`^${name}='((?:[^']|'\\\\'')*)'$`, 'm').exec(script)
    return match?.[1].replace(/'\\''/g, "'")
  }
}

/** `@@log` lines of a releases log with these events, oldest first. */
export function logLines(events: Array<[event: string, id: string]>): string {
  return events.map(([event, id], i) => `@@log {"event":"${event}","id":"${id}","time":"2026-01-01T00:00:0${i}Z"}\n`).join('')
}
