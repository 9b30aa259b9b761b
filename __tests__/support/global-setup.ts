/**
 * Vitest globalSetup: the whole test run works in one temporary folder of its
 * own (see run-folder.ts), removed at the end. TMPDIR points there before any
 * worker starts, so every os.tmpdir() of the tests, the harnesses
 * (scripts/lib/sshd.js) and the processes they start lands inside it.
 * Vitest ends on SIGINT and SIGTERM through process.exit, which runs no
 * teardown but does emit 'exit'; a SIGKILL leaves the folder, and the next
 * run removes it.
 *
 * The teardown fails the run when an atomic-deploy-* entry appeared beside
 * the run folder: something made it outside (a hard-coded path, a child
 * with its own TMPDIR) and nothing removes it.
 */
import * as os from 'os'
import { startRun } from './run-folder'

export default function setup(): () => void {
  const outer = os.tmpdir()
  const run = startRun(outer)
  for (const name of run.removed) process.stderr.write(`removed ${name}, left by a test run that was killed\n`)
  const remove = (): void => void run.finish()
  process.once('exit', remove)
  // Node's own handling of SIGHUP ends the process without 'exit': remove first, then end the same way.
  const onHangup = (): void => {
    remove()
    process.kill(process.pid, 'SIGHUP')
  }
  process.once('SIGHUP', onHangup)
  process.env.TMPDIR = run.folder
  return () => {
    process.env.TMPDIR = outer
    process.off('SIGHUP', onHangup)
    process.off('exit', remove)
    const left = run.finish()
    if (left.length === 0) return
    process.stderr.write(`The test run left ${left.length} entries in ${outer}, outside its run folder:\n${left.map((name) => `  ${name}\n`).join('')}`)
    process.stderr.write('Make them under os.tmpdir() (the run folder) or remove them when done.\n')
    process.exitCode = 1
  }
}
