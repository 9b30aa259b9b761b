import * as core from '@actions/core'
import { INPUTS } from '../config/input-spec'

/** Registers every line of every secret input, so no part of one is ever printed. */
export function maskSecrets(): void {
  for (const { name } of INPUTS.filter((input) => input.secret)) {
    const value = core.getInput(name)
    if (!value) continue
    core.setSecret(value)
    for (const line of value.split(/\r?\n/)) {
      if (line.trim()) core.setSecret(line.trim())
    }
  }
}
