import { spawn } from 'child_process'
import { RunOptions, ScriptRunner } from '../../src/ssh/connection'
import { ScriptResult } from '../../src/ssh/protocol'

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
      return new Promise((resolve) =>
        child.on('close', (code) => {
          options.stdin?.unpipe(child.stdin)
          const results = stdout.split('\n').flatMap((line): Array<[string, string]> => {
            const m = /^@@(\S+) ?(.*)$/.exec(line)
            return m ? [[m[1], m[2]]] : []
          })
          resolve({ code, results, stdout, stderr })
        })
      )
    }
  }
}
