import { Reporter } from './reporter'

/**
 * Node exits, with status 0, once nothing is left to wait for, even while a
 * promise is pending (a stream or connection that closed without the event
 * its reader waits for). A run must never end that way: when the event loop
 * runs dry before `work` settles, the returned promise rejects, naming the
 * step the run was in, and the front end fails the step as for any error.
 */
export function failIfUnsettled<T>(work: Promise<T>, currentStep: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onBeforeExit = (): void => {
      reject(
        new Error(
          `The run stopped during "${currentStep()}" without a result: a connection or stream closed without saying how it ended, so the mode did not finish. ` +
            'Check what the servers hold (mode: list) before deploying again.'
        )
      )
    }
    process.once('beforeExit', onBeforeExit)
    work.then(resolve, reject).finally(() => process.removeListener('beforeExit', onBeforeExit))
  })
}

/** Wraps a reporter to remember the step the run is in: the last group or `----->` banner. */
export function trackSteps(reporter: Reporter): { reporter: Reporter; current: () => string } {
  let step = 'start'
  return {
    current: () => step,
    reporter: {
      ...reporter,
      info: (line) => {
        if (line.startsWith('-----> ')) step = line.slice(7)
        reporter.info(line)
      },
      group: (title, work) => {
        step = title
        return reporter.group(title, work)
      }
    }
  }
}
