import * as core from '@actions/core'
import { Reporter } from '../core/reporter'
import { savePendingCleanup } from './state'

/**
 * Log groups per step: each `----->` banner of the remote script opens a
 * collapsible group (Actions groups do not nest, so a new one closes the last).
 */
export function actionReporter(): Reporter {
  let open = false
  const close = (): void => {
    if (open) core.endGroup()
    open = false
  }
  const start = (title: string): void => {
    close()
    core.startGroup(title)
    open = true
  }
  return {
    info: (line) => (line.startsWith('-----> ') ? start(line.slice(7)) : core.info(line)),
    warning: (line) => core.warning(line),
    group: async (title, work) => {
      start(title)
      try {
        return await work()
      } finally {
        close()
      }
    },
    rememberCleanup: savePendingCleanup
  }
}
