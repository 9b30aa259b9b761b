import { spawn } from 'child_process'
import * as path from 'path'
import { RunOptions, ScriptRunner } from '../../src/ssh/connection'
import { ScriptResult } from '../../src/ssh/protocol'
import { settleSpareCopies } from '../e2e/sshd-harness'

/** How the local "server" runs a script: its shell, PATH and home, as whom, under which umask. */
export interface LocalServer {
  /** The shell and its flag, e.g. ['dash', '-c']; the script follows. */
  command: string[]
  PATH: string
  /** HOME and the working folder. */
  home: string
  user?: { uid: number; gid: number }
  /** Set before the shell starts, as an sshd session inherits one (e.g. '077'). */
  umask?: string
  /** false: a script's result comes back while the spare copy its finish started may still run, as over SSH. */
  settleSpareCopies?: boolean
}

/** Runs remote scripts with a local shell, streaming stdin, as the SSH transport does. */
export function localRunner(server: LocalServer): ScriptRunner {
  const [shell, ...flags] = server.umask === undefined ? server.command : ['sh', '-c', 'umask "$1" && shift && exec "$@"', 'sh', server.umask, ...server.command]
  return {
    run(script: string, options: RunOptions = {}): Promise<ScriptResult> {
      const child = spawn(shell, [...flags, script], { env: { PATH: server.PATH, HOME: server.home }, cwd: server.home, ...server.user })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8')
      child.stderr.setEncoding('utf8')
      child.stdout.on('data', (c: string) => (stdout += c))
      child.stderr.on('data', (c: string) => {
        stderr += c
        c.split('\n')
          .filter(Boolean)
          .forEach((line) => options.onLog?.(line))
      })
      child.stdin.on('error', () => undefined)
      if (options.stdin) options.stdin.pipe(child.stdin)
      else child.stdin.end()
      // A finish leaves the spare copy of the cache running in the background
      // (lib/spare.sh): it is waited for, so that what a test reads or removes
      // next is settled, and the next deploy finds the spare complete.
      const settle = async (code: number | null): Promise<ScriptResult> => {
        options.stdin?.unpipe(child.stdin)
        const deployPath = spareCopyRoot(script)
        if (deployPath && server.settleSpareCopies !== false) await settleSpareCopies(path.resolve(server.home, deployPath), { ms: 60_000, depth: 0 })
        const results = stdout.split('\n').flatMap((line): Array<[string, string]> => {
          const m = /^@@(\S+) ?(.*)$/.exec(line)
          return m ? [[m[1], m[2]]] : []
        })
        return { code, results, stdout, stderr }
      }
      return new Promise((resolve) => child.on('close', (code) => void settle(code).then(resolve)))
    }
  }
}

/** The deploy folder of a script that starts a spare copy of the cache (a finish given SPARE_COPY=1), as quoted once. */
function spareCopyRoot(script: string): string | undefined {
  if (!/^SPARE_COPY='1'$/m.test(script)) return undefined
  const m = /^DEPLOY_PATH='((?:[^']|'\\'')*)'$/m.exec(script)
  return m ? m[1].split("'\\''").join("'") : undefined
}
