/**
 * One temporary folder per test run, named after the process that owns it:
 * `atomic-deploy-tests-<pid>-<start>-XXXXXX`, where <start> is when that
 * process started. The name is the marker, so a folder is never seen without
 * one. A run killed with SIGKILL cannot remove its folder; the next run
 * removes every folder whose owner is gone, and never one whose owner still
 * runs (a concurrent run, on a machine shared by several checkouts).
 */
import * as fs from 'fs'
import * as path from 'path'

export const RUN_FOLDER_PREFIX = 'atomic-deploy-tests-'
const RUN_FOLDER = /^atomic-deploy-tests-(\d+)-(\d+|unknown)-/

/**
 * When a process started, in clock ticks after boot (field 22 of
 * /proc/<pid>/stat): with the pid, it names one process even after the pid
 * is reused. `unknown` where there is no /proc.
 */
export function startOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return fs.existsSync('/proc/self/stat') ? undefined : 'unknown'
  }
}

/** True while the process that made a run folder of this pid and start runs. */
export function ownerRuns(pid: number, start: string): boolean {
  if (start !== 'unknown') return startOf(pid) === start
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function isRunFolder(name: string): boolean {
  return RUN_FOLDER.test(name)
}

/**
 * Makes this process's run folder in `parent`, open as `parent` is (1777 for
 * /tmp): the test server's deploy user reads its keys in there, and the
 * hostile tests need it able to write where a temporary file would go.
 */
export function makeRunFolder(parent: string, pid = process.pid): string {
  const folder = fs.mkdtempSync(path.join(parent, `${RUN_FOLDER_PREFIX}${pid}-${startOf(pid) ?? 'unknown'}-`))
  fs.chmodSync(folder, fs.statSync(parent).mode & 0o7777)
  return folder
}

/** Removes the run folders in `parent` whose owner no longer runs; returns their names. */
export function removeDeadRunFolders(parent: string): string[] {
  const dead = fs.readdirSync(parent).filter((name) => {
    const match = RUN_FOLDER.exec(name)
    return match !== null && !ownerRuns(Number(match[1]), match[2])
  })
  for (const name of dead) fs.rmSync(path.join(parent, name), { recursive: true, force: true })
  return dead
}

/** The atomic-deploy-* entries of `parent`, run folders aside. */
export function leftoverEntries(parent: string): string[] {
  return fs
    .readdirSync(parent)
    .filter((name) => name.startsWith('atomic-deploy-') && !isRunFolder(name))
    .sort()
}

export interface Run {
  folder: string
  /** Run folders of killed runs that starting this one removed. */
  removed: string[]
  /** Removes the run folder; returns the atomic-deploy-* entries made beside it since the start. */
  finish(): string[]
}

/** Starts a test run in `outer`: removes dead runs' folders, then makes this one's. */
export function startRun(outer: string): Run {
  const removed = removeDeadRunFolders(outer)
  const before = new Set(leftoverEntries(outer))
  const folder = makeRunFolder(outer)
  return {
    folder,
    removed,
    finish: () => {
      fs.rmSync(folder, { recursive: true, force: true })
      return leftoverEntries(outer).filter((name) => !before.has(name))
    }
  }
}
