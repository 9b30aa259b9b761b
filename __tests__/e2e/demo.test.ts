/** `npm run demo` (scripts/demo.js): it runs start to finish and leaves nothing behind. */
import { spawn } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterEach, describe, expect, it } from 'vitest'
import { alive, listening } from '../support/processes'
import { findSshd } from './sshd-harness'

const REPO = path.resolve(__dirname, '../..')
const DEMO = path.join(REPO, 'scripts/demo.js')
const FORCE_EMBEDDED = 'ATOMIC_DEPLOY_DEMO_EMBEDDED_SSHD'

interface DemoRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Temporary folders the demo announced, checked and (if a test failed) cleaned after each test. */
let announced: string[] = []

/**
 * Runs the demo; `interruptWhen` sends SIGINT to the demo (only) once its
 * output contains that text. Killed after 120 s so a hang fails with its output.
 * The embedded SSH server only when `embedded` says so, whatever the caller's environment.
 */
function runDemo(interruptWhen?: string, embedded = false): Promise<DemoRun> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== FORCE_EMBEDDED))
  if (embedded) env[FORCE_EMBEDDED] = '1'
  const child = spawn(process.execPath, [DEMO], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let interrupted = false
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    const folder = /temporary folder: \$DEMO = (\S+)/.exec(stdout)
    if (folder && !announced.includes(folder[1])) announced.push(folder[1])
    if (interruptWhen && !interrupted && stdout.includes(interruptWhen)) {
      interrupted = true
      child.kill('SIGINT')
    }
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  )
}

/** Processes whose command line names this folder (sshd is started with -f <folder>/.../sshd_config). */
function processesUsing(folder: string): string[] {
  const found: string[] = []
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
      if (cmdline.includes(folder)) found.push(`${pid}: ${cmdline}`)
    } catch {
      // ended while we looked
    }
  }
  return found
}

/** The demo's temporary folder, server pid (sshd's, or the demo's own for the embedded server) and port, as it printed them. */
function announcedServer(stdout: string): { folder: string; pid: number; port: number } {
  const folder = /temporary folder: \$DEMO = (\S+)/.exec(stdout)
  const server = /(?:sshd pid (\d+)|embedded SSH server \(inside the demo, pid (\d+)\)) listening on 127\.0\.0\.1:(\d+)/.exec(stdout)
  expect(folder, stdout).not.toBeNull()
  expect(server, stdout).not.toBeNull()
  return { folder: folder![1], pid: Number(server![1] ?? server![2]), port: Number(server![3]) }
}

async function expectNothingLeft(stdout: string): Promise<void> {
  const { folder, pid, port } = announcedServer(stdout)
  expect(folder).toMatch(/atomic-deploy-demo-/)
  expect(fs.existsSync(folder), `${folder} is still there`).toBe(false)
  expect(alive(pid), `server pid ${pid} is still running`).toBe(false)
  expect(processesUsing(folder)).toEqual([])
  expect(await listening(port), `something still listens on port ${port}`).toBe(false)
}

afterEach(() => {
  // If a test failed half-way, do not leave its sshd or folder for the next one.
  for (const folder of announced) {
    for (const line of processesUsing(folder)) {
      try {
        process.kill(Number(line.split(':')[0]), 'SIGKILL')
      } catch {
        // already gone
      }
    }
    fs.rmSync(folder, { recursive: true, force: true })
  }
  announced = []
})

describe('npm run demo', () => {
  it('deploys twice, lists, rolls back, prints the tree and timings, and cleans up', async () => {
    findSshd() // fails with the install line when sshd is missing; never skipped
    const begin = Date.now()
    const run = await runDemo()
    const seconds = (Date.now() - begin) / 1000
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0)
    const out = run.stdout

    const finished = /Demo finished: deployed (\S+) and (\S+), rolled back to (\S+), nothing left behind\./.exec(out)
    expect(finished, out).not.toBeNull()
    const [, first, second, rolledBackTo] = finished!
    expect(second).not.toBe(first)
    expect(rolledBackTo).toBe(first)

    // Both deploys, through the CLI, with its own step lines.
    expect(out).toContain('$ node dist/cli/index.js deploy --source examples/site --shared uploads/')
    expect(out).toContain('$ node dist/cli/index.js deploy --source $DEMO/site-v2 --shared uploads/')
    expect(out).toContain(`== Preparing release ${first}`)
    expect(out).toContain(`== Preparing release ${second}`)
    expect(out).toContain('-----> Receiving the upload into a staging folder')
    expect(out).toContain('-----> Switching current to the new release')
    expect(out).toContain('visitors see: "Example site, version 1.0.0"')
    expect(out).toContain('visitors see: "Example site, version 1.1.0"')
    expect(out).toContain("ok: the visitor's upload survived the deploy")

    // The rollback, and the listings before and after it.
    expect(out).toContain('$ node dist/cli/index.js rollback')
    expect(out).toContain(`${second} -> ${first}`)
    expect(out).toMatch(new RegExp(`^\\s+\\*\\s+${second}\\s.*\\bok$`, 'm'))
    expect(out).toMatch(new RegExp(`^\\s+${second}\\s.*\\bbad$`, 'm'))
    expect(out).toMatch(new RegExp(`^\\s+\\*\\s+${first}\\s.*\\bok$`, 'm'))
    expect(out).toContain(`ok: current -> releases/${first} again`)
    expect(out).toContain("ok: the visitor's upload survived the rollback")

    // The server tree, after the first deploy, the second and the rollback.
    expect(out.match(/server tree:/g)?.length).toBeGreaterThanOrEqual(4)
    expect(out).toContain(`├── current -> releases/${first}`)
    expect(out).toContain(`├── current -> releases/${second}`)
    for (const entry of ['├── releases/', '├── shared/', '└── .atomic-deploy/', 'uploads -> ../../shared/uploads', 'visitor-upload.txt']) {
      expect(out).toContain(entry)
    }

    // Timings of every call.
    expect(out).toMatch(/exit 0, \d+\.\d\d s wall time/)
    for (const label of ['start sshd', 'deploy 1.0.0', 'deploy 1.1.0', 'list', 'rollback', 'total']) {
      expect(out).toMatch(new RegExp(`^  ${label}.*\\d+\\.\\d\\d s$`, 'm'))
    }
    expect(out).not.toContain('strict-host-key')
    expect(seconds).toBeLessThan(60) // a hang guard: about 4 s on a quiet machine

    await expectNothingLeft(out)
  }, 150_000)

  it(`with ${FORCE_EMBEDDED}=1 says so first, deploys the same way through its embedded SSH server, and cleans up`, async () => {
    const run = await runDemo(undefined, true)
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0)
    const out = run.stdout
    const lines = out.split('\n')
    expect(lines[0]).toBe('atomic-deploy demo')
    expect(lines[1]).toBe(`Using the embedded SSH server (scripts/lib/embedded-sshd.js, ssh2's Server) instead of OpenSSH's sshd: ${FORCE_EMBEDDED}=1 is set.`)
    expect(lines[2]).toContain('listens on 127.0.0.1 only and runs each command as you, with /bin/sh -c')
    expect(out).toContain('[1/8] Start the embedded SSH server')

    // Not OpenSSH: no sshd was started, the server logs in the user running the demo, and the deploy root is the demo's own srv/.
    expect(out).not.toMatch(/sshd pid \d+/)
    const server = /embedded SSH server \(inside the demo, pid (\d+)\) listening on 127\.0\.0\.1:(\d+), logging in (\S+) \(you\)/.exec(out)
    expect(server, out).not.toBeNull()
    expect(server![3]).toBe(os.userInfo().username)
    expect(out).toContain('deploy path on the server: $DEMO/srv/site')

    const finished = /Demo finished: deployed (\S+) and (\S+), rolled back to (\S+), nothing left behind\./.exec(out)
    expect(finished, out).not.toBeNull()
    const [, first, second, rolledBackTo] = finished!
    expect(second).not.toBe(first)
    expect(rolledBackTo).toBe(first)
    expect(out).toContain(`== Preparing release ${first}`)
    expect(out).toContain('-----> Receiving the upload into a staging folder')
    expect(out).toContain(`├── current -> releases/${first}`)
    expect(out).toContain(`├── current -> releases/${second}`)
    expect(out).toContain(`ok: current -> releases/${second}`)
    expect(out).toContain('visitors see: "Example site, version 1.1.0"')
    expect(out).toContain("ok: the visitor's upload survived the deploy")
    expect(out).toContain(`ok: current -> releases/${first} again`)
    expect(out).toContain(`ok: ${second} is marked bad, so another rollback goes further back`)
    expect(run.stderr).not.toContain('embedded sshd:')

    await expectNothingLeft(out)
  }, 150_000)

  it.each([
    ['sshd', false],
    ['the embedded SSH server', true]
  ])(
    'cleans up when interrupted with Ctrl-C in the middle of a deploy, with %s',
    async (_server, embedded) => {
      const run = await runDemo('-----> Receiving the upload into a staging folder', embedded)
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(130)
      expect(run.stdout).toContain('SIGINT: stopping, removing everything the demo made')
      expect(run.stdout).not.toContain('Demo finished')
      await expectNothingLeft(run.stdout)
    },
    150_000
  )
})
