/**
 * The reader the SSH exec request runs, for real: each login shell (dash,
 * BusyBox sh with BusyBox's dd, bash) runs the command, the reader's `sh` is
 * that same shell, and stdin carries the script followed by more bytes, as
 * prepare's upload follows its script. The script must run, and get every
 * byte after it intact.
 */
import { execFileSync, spawnSync } from 'child_process'
import { randomBytes } from 'crypto'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launch } from '../../src/ssh/launch'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-launch-'))
const busyboxBin = path.join(tmp, 'busybox-bin')

/** A folder whose `sh` is the given shell, first in PATH; BusyBox's has all its applets. */
function binWithSh(name: string, target: string): string {
  const bin = path.join(tmp, `${name}-bin`)
  fs.mkdirSync(bin)
  fs.symlinkSync(target, path.join(bin, 'sh'))
  return bin
}

const LOGIN_SHELLS: Array<{ name: string; login: string[]; bin: () => string }> = [
  { name: 'dash', login: ['dash', '-c'], bin: () => binWithSh('dash', execFileSync('sh', ['-c', 'command -v dash'], { encoding: 'utf8' }).trim()) },
  { name: 'busybox', login: ['busybox', 'sh', '-c'], bin: () => busyboxBin },
  { name: 'bash', login: ['bash', '-c'], bin: () => binWithSh('bash', execFileSync('sh', ['-c', 'command -v bash'], { encoding: 'utf8' }).trim()) }
]
const bins = new Map<string, string>()

beforeAll(() => {
  fs.mkdirSync(busyboxBin)
  execFileSync('busybox', ['--install', '-s', busyboxBin])
  for (const shell of LOGIN_SHELLS) bins.set(shell.name, shell.bin())
})

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

function runLaunched(shell: (typeof LOGIN_SHELLS)[number], command: string, stdin: Buffer, out: string): ReturnType<typeof spawnSync> {
  return spawnSync(shell.login[0], [...shell.login.slice(1), command], {
    input: stdin,
    env: { PATH: `${bins.get(shell.name)}:${process.env.PATH}`, HOME: tmp, OUT: out },
    timeout: 60_000
  })
}

/** Says which program runs it, and copies the rest of stdin to $OUT. */
const SCRIPT = ['set -eu', "quoted='it'\\''s, \"quoted\", $HOME `not run` \\\\'", 'printf "%s\\n" "$quoted"', 'readlink /proc/$$/exe', 'cat >"$OUT"', 'echo done', '', '', ''].join(
  '\n'
)

describe.each(LOGIN_SHELLS)('the exec command under $name', (shell) => {
  it('runs the script from stdin and leaves every byte after it to the script', () => {
    // Larger than a pipe holds, so dd gets the script in more than one read.
    const filler = `# ${'x'.repeat(100)}\n`.repeat(1500)
    const { command, payload } = launch(`${filler}${SCRIPT}`)
    const extra = randomBytes(300_000)
    const out = path.join(tmp, `${shell.name}.out`)
    const result = runLaunched(shell, command, Buffer.concat([payload, extra]), out)
    expect(result.stderr.toString()).toBe('')
    expect(result.status).toBe(0)
    const lines = result.stdout.toString().split('\n')
    expect(lines[0]).toBe('it\'s, "quoted", $HOME `not run` \\\\')
    expect(path.basename(lines[1])).toBe(shell.name)
    expect(lines[2]).toBe('done')
    expect(fs.readFileSync(out).equals(extra)).toBe(true)
  })

  it('runs nothing of a script cut short', () => {
    const { command, payload } = launch(`echo ran\n${SCRIPT}`)
    const out = path.join(tmp, `${shell.name}.short`)
    const result = runLaunched(shell, command, payload.subarray(0, payload.length - 3), out)
    expect(result.stdout.toString()).toBe('')
    expect(result.stderr.toString()).toMatch(/did not arrive whole/)
    expect(result.status).toBe(125)
    expect(fs.existsSync(out)).toBe(false)
  })
})

describe('the exec command', () => {
  it('holds no part of the script, only its length', () => {
    const { command, payload } = launch("export DB_PASSWORD='s3cret'\n")
    expect(command).not.toMatch(/s3cret|DB_PASSWORD/)
    expect(command).toContain(`count=${payload.length}`)
    expect(command.length).toBeLessThan(400)
  })
})

describe('the exec command with a dd that has no iflag=fullblock', () => {
  it('falls back to one-byte reads, just as exact', () => {
    // An older dd: refuses the operand before reading anything.
    const bin = path.join(tmp, 'old-dd-bin')
    fs.mkdirSync(bin)
    const dd = execFileSync('sh', ['-c', 'command -v dd'], { encoding: 'utf8' }).trim()
    fs.writeFileSync(path.join(bin, 'dd'), `#!/bin/sh\ncase "$*" in *iflag=*) echo "dd: invalid operand" >&2; exit 1 ;; esac\nexec ${dd} "$@"\n`, { mode: 0o755 })
    fs.symlinkSync(path.join(bins.get('dash')!, 'sh'), path.join(bin, 'sh'))
    const { command, payload } = launch(SCRIPT)
    const extra = randomBytes(5000)
    const out = path.join(tmp, 'old-dd.out')
    const result = spawnSync('dash', ['-c', command], { input: Buffer.concat([payload, extra]), env: { PATH: `${bin}:${process.env.PATH}`, HOME: tmp, OUT: out }, timeout: 60_000 })
    expect(result.stderr.toString()).toBe('')
    expect(result.status).toBe(0)
    expect(result.stdout.toString().split('\n')[2]).toBe('done')
    expect(fs.readFileSync(out).equals(extra)).toBe(true)
  })
})
