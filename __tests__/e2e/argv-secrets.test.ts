/**
 * A hook's secret never shows in any process's argv, which every user of the
 * server can read (ps): a real deploy through the committed bundle, whose
 * hooks hold a marker secret and sleep, while a sampler reads every
 * process's full command line (/proc/<pid>/cmdline, as ps -ef would show it)
 * over and over. The positive control: the same sampler does see a marker
 * that a hook puts in a sleeping process's own argv, so the test cannot pass
 * by missing the hook. Against stock tools, and against BusyBox's (sh, dd,
 * printf...) first in the server's PATH.
 */
import { execFileSync } from 'child_process'
import { randomBytes } from 'crypto'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { connectionInputs, makeWorkspace, runAction } from './run-action'
import { sampleArgvWhile } from '../support/secrets'

const TAG = randomBytes(6).toString('hex')
const SECRET = `hunter2-secret-${TAG}`
const VISIBLE = `visible-marker-${TAG}`

let bin: string | undefined
const servers: Record<string, TestServer> = {}

beforeAll(async () => {
  bin = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-argv-busybox-'))
  fs.chmodSync(bin, 0o755)
  execFileSync('busybox', ['--install', '-s', bin])
  servers.stock = await startSshd()
  servers.busybox = await startSshd({ extraConfig: `SetEnv PATH=${bin}:/usr/local/bin:/usr/bin:/bin` })
})

afterAll(async () => {
  await Promise.all(Object.values(servers).map((server) => server.stop()))
  if (bin) fs.rmSync(bin, { recursive: true, force: true })
})

/** Each hook exports the secret and sleeps; before-activate also starts the control, a process with the visible marker in its argv. */
const hookWithSecret = (name: string, control: boolean): string =>
  [
    `export DB_PASSWORD='${SECRET}'`,
    `printf '%s ran\\n' ${name} >> "$RELEASE_PATH/hooks.out"`,
    control ? `sh -c 'sleep 2; :' ${VISIBLE}` : '',
    control ? 'for tool in dd sh; do t=$(command -v $tool); printf "%s -> %s\\n" "$t" "$(readlink "$t" | sed "s|.*/||")"; done > "$RELEASE_PATH/tools.out"' : '',
    'sleep 2',
    '[ "$DB_PASSWORD" = "' + SECRET + '" ] && echo "the secret reached the hook" >> "$RELEASE_PATH/hooks.out"'
  ]
    .filter(Boolean)
    .join('\n')

describe.each(['stock', 'busybox'])('a deploy with secrets in its hooks (%s tools)', (kind) => {
  it('never shows the secret in any argv, while the sampler sees the control marker', async () => {
    const server = servers[kind]
    const root = path.join(server.root, 'argv')
    const run = runAction(
      {
        ...connectionInputs(server),
        path: root,
        source: makeWorkspace({ 'index.html': 'argv' }),
        'before-activate': hookWithSecret('before-activate', true),
        'after-activate': hookWithSecret('after-activate', false)
      },
      { timeoutMs: 120_000 }
    )
    const sampling = await sampleArgvWhile(run, SECRET, VISIBLE)
    const result = await run
    expect(result.code, result.stderr).toBe(0)
    expect(fs.readFileSync(path.join(root, 'current', 'hooks.out'), 'utf8')).toBe(
      'before-activate ran\nthe secret reached the hook\nafter-activate ran\nthe secret reached the hook\n'
    )
    // The BusyBox server really ran BusyBox's dd (the reader's) and sh.
    const tools = fs.readFileSync(path.join(root, 'current', 'tools.out'), 'utf8')
    if (kind === 'busybox') expect(tools).toBe(`${bin}/dd -> busybox\n${bin}/sh -> busybox\n`)
    else expect(tools).not.toContain('busybox')
    expect(sampling.visibleSeen, `control marker seen in ${sampling.visibleSeen} of ${sampling.samples} samples`).toBeGreaterThan(0)
    expect(sampling.secretSeen).toEqual([])
  }, 180_000)
})
