#!/usr/bin/env node
import { parseSettings } from '../config/inputs'
import { InputError } from '../config/input-error'
import { runMode } from '../core/run-mode'
import { consoleReporter } from '../core/reporter'
import { releasesTable } from '../core/releases'
import { UsageError, parseCommandLine } from './args'
import { parsePackCommand } from './pack'
import { packToFile } from '../core/pack'

/** The command-line front end, for GitLab CI, Jenkins or any shell: the same core as the action. */
async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'pack') return pack(argv.slice(1))
  let request
  try {
    request = parseCommandLine(argv, process.env)
    if ('help' in request) {
      process.stdout.write(`${request.help}\n`)
      return 0
    }
  } catch (error) {
    process.stderr.write(`atomic-deploy: ${(error as Error).message}\n`)
    return 2
  }
  try {
    const settings = parseSettings(request.read, process.env)
    const outcome = await runMode(settings, consoleReporter())
    if (request.json) {
      process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`)
    } else if (settings.mode === 'list') {
      process.stdout.write(`${releasesTable(outcome.releases)}\n`)
    } else if (outcome.releaseId && !outcome.dryRun) {
      // The one result line is the release now current; a dry run made none, so it prints none.
      process.stdout.write(`${outcome.releaseId}\n`)
    }
    return 0
  } catch (error) {
    process.stderr.write(`atomic-deploy: ${(error as Error).message}\n`)
    return error instanceof InputError || error instanceof UsageError ? 2 : 1
  }
}

/** `atomic-deploy pack`: the upload stream into a file, with the same exit codes. */
async function pack(argv: string[]): Promise<number> {
  try {
    const request = parsePackCommand(argv, process.env)
    if ('help' in request) {
      process.stdout.write(`${request.help}\n`)
      return 0
    }
    await packToFile(request.settings, request.output, consoleReporter())
    return 0
  } catch (error) {
    process.stderr.write(`atomic-deploy: ${(error as Error).message}\n`)
    return error instanceof InputError || error instanceof UsageError ? 2 : 1
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error) => {
    process.stderr.write(`atomic-deploy: ${(error as Error).stack ?? error}\n`)
    process.exitCode = 1
  }
)
