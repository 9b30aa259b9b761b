import * as fs from 'fs'
import * as path from 'path'
import { execFileSync } from 'child_process'

/** The two tars users' runners have: GNU tar (Linux) and bsdtar (macOS, Windows). */
export const RUNNER_TARS = ['gnu', 'bsdtar'] as const
export type RunnerTar = (typeof RUNNER_TARS)[number]

function which(tool: string): string {
  return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim()
}

/**
 * A PATH for a runner whose `tar` is the one named, with or without zstd,
 * and with nothing else of this machine's bin folders: a folder of links to
 * the tools the runner side may call, made in `under` (the caller removes
 * it). Fails, naming the package, when the
 * tar is not installed (never skips).
 */
export function runnerPath(tar: RunnerTar, options: { zstd: boolean; under: string }): string {
  const bin = fs.mkdtempSync(path.join(options.under, `runner-${tar}-`))
  const tarBinary = tar === 'gnu' ? '/usr/bin/tar' : '/usr/bin/bsdtar'
  if (!fs.existsSync(tarBinary)) {
    throw new Error(`${tarBinary} is missing; the runner tests need it: apt-get install -y ${tar === 'gnu' ? 'tar' : 'libarchive-tools'}`)
  }
  fs.symlinkSync(tarBinary, path.join(bin, 'tar'))
  for (const tool of ['gzip', 'sh', ...(options.zstd ? ['zstd'] : [])]) fs.symlinkSync(which(tool), path.join(bin, tool))
  fs.symlinkSync(process.execPath, path.join(bin, 'node'))
  return bin
}
