import * as core from '@actions/core'
import { inputDefault } from '../config/input-spec'
import { parseSettings } from '../config/inputs'
import { DeployError } from '../core/errors'
import { runMode } from '../core/run-mode'
import { failureSummary, outcomeSummary, writeSummary } from './summary'
import { releasesTable } from '../core/releases'
import { actionReporter } from './reporter'
import { maskSecrets } from './secrets'

/** The GitHub Action front end: inputs in, one mode of the core, outputs and summary out. */
export async function run(): Promise<void> {
  maskSecrets()
  let mode = core.getInput('mode') || inputDefault('mode')
  let host = core.getInput('host')
  try {
    const settings = parseSettings((name) => core.getInput(name), process.env, new Date(), { releaseIdFromRun: true })
    mode = settings.mode
    const outcome = await runMode(settings, actionReporter())
    host = outcome.host
    core.setOutput('release-id', outcome.releaseId)
    core.setOutput('release-path', outcome.releaseId ? `${settings.deployPath}/releases/${outcome.releaseId}` : '')
    core.setOutput('previous-release-id', outcome.previousReleaseId)
    core.setOutput('releases', JSON.stringify(outcome.releases))
    core.setOutput('results', JSON.stringify(outcome.results))
    if (settings.mode === 'list') core.info(releasesTable(outcome.releases))
    await writeSummary(outcomeSummary(outcome, settings.provenance.sha))
    if ((settings.mode === 'deploy' && !settings.dryRun) || settings.mode === 'rollback') {
      core.notice(`${outcome.releaseId} is current on ${outcome.host} (${outcome.seconds.toFixed(1)} s)`)
    }
  } catch (error) {
    if (error instanceof DeployError) core.setOutput('results', JSON.stringify(error.results))
    core.setFailed((error as Error).message)
    await writeSummary(failureSummary(error as Error, mode, host))
  }
}
