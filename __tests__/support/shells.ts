import { execFileSync, spawnSync } from 'child_process'
import * as fs from 'fs'
import * as path from 'path'

/** A server shell: how to run a script with it, and the PATH that goes with it. */
export interface Shell {
  name: string
  command: string[]
  path: string
}

/**
 * dash, BusyBox sh (with BusyBox's own tools first in PATH: its mv, tar,
 * chmod, find...) and bash. The BusyBox applets are linked into `tmp`.
 */
export function serverShells(tmp: string): Shell[] {
  const busyboxBin = path.join(tmp, 'busybox-bin')
  if (!fs.existsSync(busyboxBin)) {
    fs.mkdirSync(busyboxBin, { mode: 0o755 })
    execFileSync('busybox', ['--install', '-s', busyboxBin])
  }
  return [
    { name: 'dash', command: ['dash', '-c'], path: process.env.PATH! },
    { name: 'busybox', command: ['busybox', 'sh', '-c'], path: `${busyboxBin}:${process.env.PATH}` },
    { name: 'bash', command: ['bash', '-c'], path: process.env.PATH! }
  ]
}

/**
 * Someone the file modes apply to: as root (which ignores them) the shell
 * runs as `nobody`, otherwise as the user running the tests.
 */
export const unprivileged = {
  ids(): { uid?: number; gid?: number } {
    if (process.getuid?.() !== 0) return {}
    const id = (flag: string): number => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim())
    return { uid: id('-u'), gid: id('-g') }
  },
  /** Gives `dir` and everything in it (links themselves, not what they point to) to that user. */
  prepare(dir: string): void {
    const { uid, gid } = unprivileged.ids()
    if (uid === undefined || gid === undefined) return
    fs.lchownSync(dir, uid, gid)
    if (!fs.lstatSync(dir).isDirectory()) return
    for (const name of fs.readdirSync(dir)) unprivileged.prepare(path.join(dir, name))
  }
}

export interface ShellRun {
  code: number | null
  stdout: string
  stderr: string
  results: string[]
}

/** Runs a script under a shell; `asUnprivileged` runs it as `unprivileged` does. */
export function runShell(shell: Shell, script: string, options: { input?: Buffer; env?: Record<string, string>; cwd: string; asUnprivileged?: boolean }): ShellRun {
  const result = spawnSync(shell.command[0], [...shell.command.slice(1), script], {
    input: options.input ?? Buffer.alloc(0),
    env: { PATH: shell.path, HOME: options.cwd, ...options.env },
    cwd: options.cwd,
    ...(options.asUnprivileged ? unprivileged.ids() : {})
  })
  const stdout = result.stdout.toString()
  return { code: result.status, stdout, stderr: result.stderr.toString(), results: stdout.split('\n').filter((l) => l.startsWith('@@')) }
}
