import { EventEmitter } from 'events'
import { describe, expect, it } from 'vitest'
import { failIfUnsettled, trackSteps } from '../../src/core/settle'
import { consoleReporter } from '../../src/core/reporter'
import { settleOnClose } from '../../src/ssh/connection'

describe('no silent success', () => {
  it('a run whose promise is still pending when the event loop runs dry fails, naming its step', async () => {
    const lines: string[] = []
    const steps = trackSteps(consoleReporter((line) => lines.push(line)))
    const never = new Promise<string>(() => undefined)
    const guarded = failIfUnsettled(
      steps.reporter.group('Preparing release r1 on web1', async () => {
        steps.reporter.info('-----> Receiving the upload into a staging folder')
        return never
      }),
      steps.current
    )
    // What Node emits when nothing is left to wait for, just before it exits 0.
    process.emit('beforeExit', 0)
    await expect(guarded).rejects.toThrow(/stopped during "Receiving the upload into a staging folder" without a result/)
    expect(lines).toContain('-----> Receiving the upload into a staging folder')
  })

  it('a run that settles is passed through and leaves no listener behind', async () => {
    const before = process.listenerCount('beforeExit')
    await expect(failIfUnsettled(Promise.resolve(7), () => 'x')).resolves.toBe(7)
    await expect(failIfUnsettled(Promise.reject(new Error('boom')), () => 'x')).rejects.toThrow('boom')
    expect(process.listenerCount('beforeExit')).toBe(before)
  })

  it('a script whose connection closes before its channel does ends as a lost connection (code null)', async () => {
    const connection = new EventEmitter()
    const never = new Promise<{ code: number | null; signal: string | null }>(() => undefined)
    const settled = settleOnClose(connection, never)
    connection.emit('close')
    await expect(settled).resolves.toEqual({ code: null, signal: null })
    expect(connection.listenerCount('close')).toBe(0)
    const done = settleOnClose(connection, Promise.resolve({ code: 3, signal: null }))
    await expect(done).resolves.toEqual({ code: 3, signal: null })
    expect(connection.listenerCount('close')).toBe(0)
  })
})
