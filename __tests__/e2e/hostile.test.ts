/**
 * Hostile inputs, one table, through the committed bundle against real sshd
 * servers. Every case either
 *   (a) fails before connecting: exit code 1, `::error::Invalid input '<name>'`
 *       naming the input (exit code 2 on the command line), no new connection
 *       in the sshd log, and nothing on the server changed; or
 *   (b) deploys, taking the value literally: no canary file that an injection
 *       would create ever appears, and nothing outside `path` is touched.
 * Hook text is the user's command and runs on purpose: those cases check that
 * it runs exactly as written, not that it is inert.
 *
 * Refusals all point at one "sentinel" server and run one after another, so a
 * connection in its log belongs to exactly one case; deploys run side by side
 * on a pool of servers, each with a parent folder of its own per case.
 *
 * A NUL byte cannot reach the action at all (inputs travel as environment
 * variables, which end at the first NUL), so the NUL cases go through the
 * command line's `--*-file` inputs, the one way a NUL can get in.
 */
import { keyBodyLines, secretsShown } from '../support/secrets'
import { execFileSync, spawn } from 'child_process'
import { createHash, randomBytes } from 'crypto'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Assertion, afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEPLOY_USER_PASSWORD, TestServer, startSshd } from './sshd-harness'
import { ActionRun, makeWorkspace, runAction } from './run-action'
import { parseLogLines } from '../support/json'

const CLI = path.resolve(__dirname, '../../dist/cli/index.js')
const POOL_SIZE = 3
const TAG = `${process.pid}-${randomBytes(3).toString('hex')}`
const CANARY_PREFIX = `atomic-deploy-canary-${TAG}-`
const PASSPHRASE = `hostile pass 'phrase' "$(x)" ${TAG}`
const WRONG_PASSPHRASE = `not the passphrase ${TAG}`

let sentinel: TestServer
let pool: TestServer[] = []
let encryptedKey = ''
let publicKey = ''
let deployUid = 0
let deployGid = 0
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-hostile-'))
/** Everything any run printed or wrote, for the secrets check. */
const captured: string[] = []

beforeAll(async () => {
  ;[sentinel, ...pool] = await Promise.all(Array.from({ length: POOL_SIZE + 1 }, () => startSshd()))
  deployUid = fs.statSync(sentinel.root).uid
  deployGid = fs.statSync(sentinel.root).gid
  const keyFile = path.join(scratch, 'key')
  fs.writeFileSync(keyFile, sentinel.userKey, { mode: 0o600 })
  publicKey = execFileSync('ssh-keygen', ['-y', '-f', keyFile]).toString()
  execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', PASSPHRASE, '-f', keyFile], { stdio: 'ignore' })
  encryptedKey = fs.readFileSync(keyFile, 'utf8')
  fs.rmSync(keyFile)
  // The harness's own port probe is logged a moment after the server starts: let it land
  // before any case counts connections.
  const deadline = Date.now() + 5000
  for (let i = 0; i < 100 && Date.now() < deadline && connectionLines(sentinel.log()).length === 0; i++) await sleep(50)
  for (let i = 0, last = -1; i < 100 && Date.now() < deadline && sentinel.log().length !== last; i++) {
    last = sentinel.log().length
    await sleep(300)
  }
})

afterAll(async () => {
  await Promise.all([sentinel, ...pool].filter(Boolean).map((s) => s.stop()))
  fs.rmSync(scratch, { recursive: true, force: true })
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (name.startsWith(CANARY_PREFIX)) fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true })
  }
})

// ---- the table ----------------------------------------------------------------

interface Ctx {
  n: number
  server: TestServer
  /** A folder of this case's own, with bystander files; the deploy root lies inside it. */
  parent: string
  /** The default deploy root: <parent>/app. */
  root: string
  releaseId: string
  /** A file that only an injection would create. */
  canary: string
  /** Injection attempts that would create the canary: $(...), backticks, after ;. */
  sub: string
  tick: string
  semi: string
}

/** A soft assertion that names the case and what it checks. */
type Soft = (value: unknown, what: string) => Assertion<unknown>

interface Case {
  name: string
  /** Inputs over the defaults (connection to the case's server, path, release-id, source). */
  inputs?: (c: Ctx) => Record<string, string>
  env?: (c: Ctx) => Record<string, string>
  files?: (c: Ctx) => Record<string, string>
  /** Deploy these files first (release <id>-first), so that the case's deploy is an incremental one. */
  firstFiles?: Record<string, string>
  /** (a) Refused before connecting, naming this input. */
  refused?: string
  /** Through the command line instead of the action (for NUL): its arguments after the connection flags. */
  cli?: (c: Ctx) => string[]
  /** (b) Where the deploy root ends up (default: c.root). */
  deployRoot?: (c: Ctx) => string
  /** (b) Further checks of the deployed result. */
  check?: (c: Ctx, run: ActionRun, soft: Soft) => void
}

const connectionLines = (log: string): string[] => log.split('\n').filter((line) => /Connection from|Accepted|Failed|Invalid user/.test(line))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const long = (char: string, length = 5000): string => char.repeat(length)
const HOSTILE_NAMES: Record<string, string> = {
  'new\nline.txt': 'newline',
  '-rf': 'dash',
  '--help': 'double dash',
  'it\'s "q" $(id) `id` ;x.txt': 'quotes',
  'back\\slash\\n.txt': 'backslash',
  'ünï ✓ 日本.txt': 'unicode',
  'dir with space/-n': 'nested dash',
  ' leading space': 'space'
}
/** Regular files under a folder with their content, as 'relative/name content' lines, sorted. */
function filesIn(dir: string): string[] {
  const out: string[] = []
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(dir, rel))) {
      const sub = rel ? `${rel}/${name}` : name
      const stat = fs.lstatSync(path.join(dir, sub))
      if (stat.isDirectory()) walk(sub)
      else if (stat.isFile()) out.push(`${sub} ${fs.readFileSync(path.join(dir, sub), 'utf8')}`)
    }
  }
  walk('')
  return out.sort()
}
const inCurrent = (c: Ctx, root: string, name: string): string => fs.readFileSync(path.join(root, 'current', name), 'utf8')
const hook =
  (text: string): ((c: Ctx) => Record<string, string>) =>
  () => ({ 'before-activate': text })
const hookOut =
  (expected: string | ((c: Ctx) => string), file = 'out'): Case['check'] =>
  (c, _run, soft) =>
    soft(inCurrent(c, c.root, file), `${file} written by the hook`).toBe(typeof expected === 'string' ? expected : expected(c))

function sharedLinked(entry: (c: Ctx) => string, isDirectory: boolean): Case['check'] {
  return (c, _run, soft) => {
    const rel = entry(c).replace(/\/+$/, '')
    const inRelease = path.join(c.root, 'current', rel)
    const depth = rel.split('/').length - 1
    soft(fs.readlinkSync(inRelease), `release link for ${JSON.stringify(rel)}`).toBe(`${'../'.repeat(depth + 2)}shared/${rel}`)
    const inShared = fs.lstatSync(path.join(c.root, 'shared', rel))
    soft(isDirectory ? inShared.isDirectory() : inShared.isFile(), `shared/${rel} is a ${isDirectory ? 'folder' : 'file'}`).toBe(true)
  }
}

const CASES: Case[] = [
  // ---- release-id ----
  { name: 'release-id with $(...)', inputs: (c) => ({ 'release-id': `r${c.sub}` }), refused: 'release-id' },
  { name: 'release-id with backticks', inputs: (c) => ({ 'release-id': `r${c.tick}` }), refused: 'release-id' },
  { name: 'release-id with ;', inputs: (c) => ({ 'release-id': `r${c.semi}` }), refused: 'release-id' },
  { name: 'release-id with a newline', inputs: (c) => ({ 'release-id': `r1\ntouch ${c.canary}` }), refused: 'release-id' },
  { name: 'release-id ..', inputs: () => ({ 'release-id': '..' }), refused: 'release-id' },
  { name: 'release-id ../../escape', inputs: () => ({ 'release-id': '../../escape' }), refused: 'release-id' },
  { name: 'release-id with a leading -', inputs: () => ({ 'release-id': '-rf' }), refused: 'release-id' },
  { name: 'release-id with a leading .', inputs: () => ({ 'release-id': '.staging' }), refused: 'release-id' },
  { name: 'release-id with spaces', inputs: () => ({ 'release-id': 'my release' }), refused: 'release-id' },
  { name: 'release-id with quotes', inputs: () => ({ 'release-id': `it's"x"` }), refused: 'release-id' },
  { name: 'release-id in unicode', inputs: () => ({ 'release-id': 'relé-ünï-✓' }), refused: 'release-id' },
  { name: 'release-id of 5000 characters', inputs: () => ({ 'release-id': long('a') }), refused: 'release-id' },
  { name: 'default release-id from a hostile GITHUB_RUN_ID', inputs: () => ({ 'release-id': '' }), env: (c) => ({ GITHUB_RUN_ID: `1${c.semi}` }), refused: 'release-id' },
  { name: 'release-id with every allowed odd character', inputs: () => ({ 'release-id': 'A.b_c-9..z' }) },
  { name: 'release-id of 128 characters (the limit)', inputs: () => ({ 'release-id': long('x', 128) }) },

  // ---- path ----
  { name: 'path /', inputs: () => ({ path: '/' }), refused: 'path' },
  { name: 'path /etc', inputs: () => ({ path: '/etc' }), refused: 'path' },
  { name: 'path /etc/ with slashes', inputs: () => ({ path: '//etc//' }), refused: 'path' },
  { name: 'path ~', inputs: () => ({ path: '~' }), refused: 'path' },
  { name: 'path ~/app', inputs: () => ({ path: '~/app' }), refused: 'path' },
  { name: 'path relative', inputs: () => ({ path: 'var/www/app' }), refused: 'path' },
  { name: 'path with .. up to /etc', inputs: (c) => ({ path: `${c.parent}/app/../../../../../../etc` }), refused: 'path' },
  { name: 'path with a newline and a command', inputs: (c) => ({ path: `${c.parent}/app\ntouch ${c.canary}` }), refused: 'path' },
  { name: 'path with a tab', inputs: (c) => ({ path: `${c.parent}/a\tb` }), refused: 'path' },
  { name: 'path of 5000 characters', inputs: (c) => ({ path: `${c.parent}/${long('p')}` }), refused: 'path' },
  { name: 'path with $(...)', inputs: (c) => ({ path: `${c.parent}/app${c.sub}` }), deployRoot: (c) => `${c.parent}/app${c.sub}` },
  { name: 'path with backticks', inputs: (c) => ({ path: `${c.parent}/app${c.tick}` }), deployRoot: (c) => `${c.parent}/app${c.tick}` },
  { name: 'path with ;', inputs: (c) => ({ path: `${c.parent}/app${c.semi}` }), deployRoot: (c) => `${c.parent}/app${c.semi}` },
  { name: 'path with quotes and $VAR', inputs: (c) => ({ path: `${c.parent}/it's "my" app $HOME` }), deployRoot: (c) => `${c.parent}/it's "my" app $HOME` },
  { name: 'path with a backslash', inputs: (c) => ({ path: `${c.parent}/back\\app` }), deployRoot: (c) => `${c.parent}/back\\app` },
  { name: 'path with a glob and spaces', inputs: (c) => ({ path: `${c.parent}/app *` }), deployRoot: (c) => `${c.parent}/app *` },
  { name: 'path with a leading - in a segment', inputs: (c) => ({ path: `${c.parent}/-rf --no-preserve-root` }), deployRoot: (c) => `${c.parent}/-rf --no-preserve-root` },
  { name: 'path in unicode', inputs: (c) => ({ path: `${c.parent}/приложение ✓ 日本` }), deployRoot: (c) => `${c.parent}/приложение ✓ 日本` },
  { name: 'path with doubled and trailing slashes', inputs: (c) => ({ path: `${c.parent}//app/` }), deployRoot: (c) => `${c.parent}/app` },
  { name: 'path with a 255-character segment', inputs: (c) => ({ path: `${c.parent}/${long('s', 255)}` }), deployRoot: (c) => `${c.parent}/${long('s', 255)}` },

  // ---- keep and other numbers or choices ----
  { name: 'keep 0', inputs: () => ({ keep: '0' }), refused: 'keep' },
  { name: 'keep -1', inputs: () => ({ keep: '-1' }), refused: 'keep' },
  { name: 'keep 1e3', inputs: () => ({ keep: '1e3' }), refused: 'keep' },
  { name: 'keep abc', inputs: () => ({ keep: 'abc' }), refused: 'keep' },
  { name: 'keep with ;', inputs: (c) => ({ keep: `5${c.semi}` }), refused: 'keep' },
  { name: 'lock-timeout with $(...)', inputs: (c) => ({ 'lock-timeout': c.sub }), refused: 'lock-timeout' },
  { name: 'command-timeout 1e3', inputs: () => ({ 'command-timeout': '1e3' }), refused: 'command-timeout' },
  { name: 'compression with ;', inputs: (c) => ({ compression: `none${c.semi}` }), refused: 'compression' },
  { name: 'mode with backticks', inputs: (c) => ({ mode: `deploy${c.tick}` }), refused: 'mode' },

  // ---- host, port, user ----
  { name: 'host with ;', inputs: (c) => ({ host: `127.0.0.1${c.semi}` }), refused: 'host' },
  { name: 'host with $(...)', inputs: (c) => ({ host: c.sub }), refused: 'host' },
  { name: 'host with backticks', inputs: (c) => ({ host: c.tick }), refused: 'host' },
  { name: 'host as an ssh option', inputs: (c) => ({ host: `-oProxyCommand=touch ${c.canary}` }), refused: 'host' },
  { name: 'host with a space', inputs: () => ({ host: '127.0.0.1 -p 22' }), refused: 'host' },
  { name: 'host ..', inputs: () => ({ host: '..' }), refused: 'host' },
  { name: 'host in unicode', inputs: () => ({ host: 'sérveur.example' }), refused: 'host' },
  // Pinned by fingerprint, so that no known-hosts line can be what refuses it.
  { name: 'host of 5000 characters', inputs: (c) => ({ host: long('h'), 'known-hosts': '', 'host-fingerprint': c.server.fingerprint }), refused: 'host' },
  { name: 'host port with ;', inputs: (c) => ({ host: `127.0.0.1:22${c.semi}` }), refused: 'host' },
  { name: 'host in brackets with ;', inputs: (c) => ({ host: `[::1${c.semi}]:22` }), refused: 'host' },
  { name: 'several hosts, one a line, the second hostile', inputs: (c) => ({ host: `127.0.0.1:${c.server.port}\n127.0.0.1${c.semi}` }), refused: 'host' },
  { name: 'several hosts, comma-separated, the last hostile', inputs: (c) => ({ host: `127.0.0.1:${c.server.port}, localhost:${c.server.port}, ${c.sub}` }), refused: 'host' },
  { name: 'port with $(...)', inputs: (c) => ({ host: '127.0.0.1', port: `22${c.sub}` }), refused: 'port' },
  { name: 'username with ;', inputs: (c) => ({ username: `deploy${c.semi}` }), refused: 'username' },
  { name: 'username as an ssh option', inputs: (c) => ({ username: `-oProxyCommand=touch ${c.canary}` }), refused: 'username' },
  { name: 'source with $(...)', inputs: (c) => ({ source: c.sub }), refused: 'source' },

  // ---- host keys ----
  { name: 'known-hosts with a hostile junk line', inputs: (c) => ({ 'known-hosts': `${c.server.knownHosts}evil.example ssh-ed25519 ${c.sub}\n` }), refused: 'known-hosts' },
  { name: 'host-fingerprint with $(...)', inputs: (c) => ({ 'known-hosts': '', 'host-fingerprint': `SHA256:${c.sub}` }), refused: 'host-fingerprint' },
  { name: 'known-hosts with hostile comments', inputs: (c) => ({ 'known-hosts': `# ${c.sub}\n# ${c.tick}\n${c.server.knownHosts}` }) },

  // ---- keys ----
  {
    name: 'before-activate over the size cap as sent (70 KB of single quotes, 280 KB quoted)',
    inputs: () => ({ 'before-activate': `: "${long("'", 70_000)}"` }),
    refused: 'before-activate'
  },
  { name: 'ssh-key that is a public key', inputs: () => ({ 'ssh-key': publicKey }), refused: 'ssh-key' },
  { name: 'ssh-key that is garbage', inputs: (c) => ({ 'ssh-key': `not a key ${c.sub}` }), refused: 'ssh-key' },
  {
    name: 'ssh-key that is a PuTTY key',
    inputs: () => ({ 'ssh-key': 'PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5\nAAAAIB\n' }),
    refused: 'ssh-key'
  },
  {
    name: 'ssh-key with a damaged body between good armour lines',
    inputs: () => ({ 'ssh-key': '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA$(touch x)AAAA\n-----END OPENSSH PRIVATE KEY-----\n' }),
    refused: 'ssh-key'
  },
  { name: 'encrypted ssh-key with a wrong passphrase', inputs: () => ({ 'ssh-key': encryptedKey, 'ssh-key-passphrase': WRONG_PASSPHRASE }), refused: 'ssh-key-passphrase' },
  { name: 'encrypted ssh-key without its passphrase', inputs: () => ({ 'ssh-key': encryptedKey }), refused: 'ssh-key-passphrase' },
  { name: 'ssh-key without its final newline (repaired)', inputs: (c) => ({ 'ssh-key': c.server.userKey.trimEnd() }) },
  { name: 'ssh-key with Windows line ends (repaired)', inputs: (c) => ({ 'ssh-key': c.server.userKey.replace(/\n/g, '\r\n') }) },
  {
    name: 'ssh-key pasted with CRLF, indentation, blank lines and no final newline (repaired)',
    inputs: (c) => ({
      'ssh-key': `\r\n\r\n${c.server.userKey
        .trimEnd()
        .split('\n')
        .map((line) => `  ${line}  `)
        .join('\r\n')}`
    })
  },
  { name: 'ssh-key typed on one line with literal \\n (repaired)', inputs: (c) => ({ 'ssh-key': c.server.userKey.trimEnd().replace(/\n/g, '\\n') }) },
  { name: 'encrypted ssh-key with its hostile passphrase', inputs: () => ({ 'ssh-key': encryptedKey, 'ssh-key-passphrase': PASSPHRASE }) },
  { name: 'password login', inputs: () => ({ 'ssh-key': '', password: DEPLOY_USER_PASSWORD }) },

  // ---- NUL, through the command line's file inputs ----
  // The key material is intact: the NUL is skipped like the line breaks around it, and the key works.
  {
    name: 'NUL between the lines of the key (command line --ssh-key-file)',
    cli: (c) => ['--ssh-key-file', writeScratch(c, 'key', c.server.userKey.replace(/\n(?=[^\n]*\n-----END)/, '\n\0'))]
  },
  {
    name: 'NUL inside the passphrase (command line --ssh-key-passphrase-file)',
    cli: (c) => ['--ssh-key-file', writeScratch(c, 'key', encryptedKey), '--ssh-key-passphrase-file', writeScratch(c, 'pass', `${PASSPHRASE}\0${c.sub}`)],
    refused: 'ssh-key-passphrase'
  },
  {
    name: 'NUL inside the known-hosts host name (command line --known-hosts-file)',
    cli: (c) => ['--known-hosts-file', writeScratch(c, 'known_hosts', c.server.knownHosts.replace(']:', '\0evil]:'))],
    refused: 'known-hosts'
  },

  // ---- shared ----
  { name: 'shared ../outside/', inputs: () => ({ shared: '../outside/' }), refused: 'shared' },
  { name: 'shared /etc/passwd', inputs: () => ({ shared: '/etc/passwd' }), refused: 'shared' },
  { name: 'shared with a leading -', inputs: () => ({ shared: '-rf/' }), refused: 'shared' },
  { name: 'shared climbing out through ..', inputs: () => ({ shared: 'storage/../../../etc/' }), refused: 'shared' },
  { name: 'shared, a good line then a hostile one', inputs: () => ({ shared: 'storage/\n../../escape' }), refused: 'shared' },
  { name: 'shared with a tab', inputs: () => ({ shared: 'a\tb/' }), refused: 'shared' },
  { name: 'shared of 5000 characters', inputs: () => ({ shared: `${long('s')}/` }), refused: 'shared' },
  { name: 'shared with $(...)', inputs: (c) => ({ shared: `${c.sub}/` }), check: sharedLinked((c) => c.sub, true) },
  { name: 'shared with backticks', inputs: (c) => ({ shared: `${c.tick}/` }), check: sharedLinked((c) => c.tick, true) },
  { name: 'shared with ;', inputs: (c) => ({ shared: `${c.semi}/` }), check: sharedLinked((c) => c.semi, true) },
  { name: 'shared with quotes and spaces', inputs: () => ({ shared: `it's "my" data/` }), check: sharedLinked(() => `it's "my" data`, true) },
  { name: 'shared in unicode', inputs: () => ({ shared: 'données ✓/' }), check: sharedLinked(() => 'données ✓', true) },
  { name: 'shared with a backslash', inputs: () => ({ shared: 'back\\slash\\n/' }), check: sharedLinked(() => 'back\\slash\\n', true) },
  {
    name: 'shared file with quotes, $ and backticks, seeded from the release',
    inputs: () => ({ shared: 'config/it\'s "$HOME" `x`.env' }),
    files: () => ({ 'config/it\'s "$HOME" `x`.env': 'SECRET=from-release' }),
    check: (c, run, soft) => {
      sharedLinked(() => 'config/it\'s "$HOME" `x`.env', false)!(c, run, soft)
      soft(fs.readFileSync(path.join(c.root, 'shared/config/it\'s "$HOME" `x`.env'), 'utf8'), 'seeded shared file').toBe('SECRET=from-release')
    }
  },

  // ---- exclude (matched on the runner only) ----
  { name: 'exclude with $(...)', inputs: (c) => ({ exclude: c.sub }) },
  { name: 'exclude with backticks', inputs: (c) => ({ exclude: c.tick }) },
  { name: 'exclude with ;', inputs: (c) => ({ exclude: c.semi }) },
  { name: 'exclude with .., a leading - and absolute paths', inputs: () => ({ exclude: '..\n../../etc/passwd\n-rf\n/etc/**' }) },
  { name: 'exclude of 5000 characters', inputs: () => ({ exclude: long('e') }) },
  {
    name: 'exclude in unicode leaves out the unicode file',
    inputs: () => ({ exclude: '*.ünï' }),
    files: () => ({ 'drop.ünï': 'x', 'keep.txt': 'y' }),
    check: (c, _run, soft) => {
      soft(fs.existsSync(path.join(c.root, 'current/drop.ünï')), 'drop.ünï excluded').toBe(false)
      soft(inCurrent(c, c.root, 'keep.txt'), 'keep.txt kept').toBe('y')
    }
  },
  {
    name: 'exclude lines mixing a real pattern and injections',
    inputs: (c) => ({ exclude: `secret.txt\n${c.sub}\n${c.semi}` }),
    files: () => ({ 'secret.txt': 'x' }),
    check: (c, _run, soft) => soft(fs.existsSync(path.join(c.root, 'current/secret.txt')), 'secret.txt excluded').toBe(false)
  },

  // ---- file names in the workspace ----
  {
    name: 'workspace file names with a newline, quotes, $(...), a leading - and a backslash',
    files: () => HOSTILE_NAMES,
    check: (c, _run, soft) =>
      soft(filesIn(path.join(c.root, 'current')), 'the release holds exactly the workspace').toEqual(filesIn(makeWorkspace({ 'index.html': `case ${c.n}`, ...HOSTILE_NAMES })))
  },
  {
    name: 'an incremental deploy removes exactly the file whose name holds a newline',
    firstFiles: { 'a\nb': 'goes', a: 'stays a', b: 'stays b', '-n\n-e': 'goes too' },
    files: () => ({ a: 'stays a', b: 'stays b' }),
    check: (c, _run, soft) => soft(filesIn(path.join(c.root, 'current')), 'the release').toEqual([`a stays a`, `b stays b`, `index.html case ${c.n}`])
  },

  // ---- hooks: run exactly as written ----
  { name: 'hook with nested quotes and $', inputs: hook(`printf '%s\\n' "a'b\\"c\\$d" > out`), check: hookOut(`a'b"c$d\n`) },
  { name: 'hook with $(...) and backticks meant to run', inputs: hook('echo "$(printf \'x%sy\' 1)" > out; echo `printf z` >> out'), check: hookOut('x1y\nz\n') },
  {
    name: 'hook with injections inside single quotes stays literal',
    inputs: (c) => ({ 'before-activate': `printf '%s\\n' '${c.sub}' '${c.tick}' '${c.semi}' > out` }),
    check: hookOut((c) => `${c.sub}\n${c.tick}\n${c.semi}\n`)
  },
  { name: 'hook with ; and several lines', inputs: hook('printf a > out; printf b >> out\nprintf c >> out\n\nprintf d >> out'), check: hookOut('abcd') },
  {
    name: 'hook with a quoted heredoc',
    inputs: (c) => ({ 'before-activate': `cat > out <<'EOF'\n$HOME ${c.tick} ${c.sub} '"\\\nEOF` }),
    check: hookOut((c) => `$HOME ${c.tick} ${c.sub} '"\\\n`)
  },
  { name: 'hook with % and backslashes', inputs: hook("printf '100%% %s' 'a\\b\\\\c' > out"), check: hookOut('100% a\\b\\\\c') },
  { name: 'hook in unicode', inputs: hook("printf '%s' 'héllo ✓ 日本 🚀' > out"), check: hookOut('héllo ✓ 日本 🚀') },
  { name: 'hook with a 5000-character argument', inputs: hook(`printf '%s' '${long('k')}' > out`), check: hookOut(long('k')) },
  {
    // 188 KB once quoted: too long for one argument when the script went in argv; on stdin it runs.
    name: 'hook of 47 KB of single quotes',
    inputs: hook(`printf '%s' "${long("'", 47_000)}" > out`),
    check: hookOut(long("'", 47_000))
  },
  { name: 'hook with Windows line ends', inputs: hook('printf a > out\r\nprintf b >> out\r\n'), check: hookOut('ab') },
  {
    name: 'after-activate with quotes sees the release variables',
    inputs: () => ({ 'after-activate': `printf '%s|%s|%s' "$RELEASE_ID" "\${PREVIOUS_RELEASE_ID:-none}" "it's" > "$RELEASE_PATH/after.out"` }),
    check: hookOut((c) => `${c.releaseId}|none|it's`, 'after.out')
  },

  // ---- the GitHub context (a branch name is chosen by whoever pushes it) ----
  {
    name: 'hostile GITHUB_REF and GITHUB_ACTOR go into the log literally',
    env: (c) => ({ GITHUB_REF: `refs/heads/x${c.sub}${c.tick}${c.semi}","id":"../..'`, GITHUB_ACTOR: `a${c.sub}` }),
    check: (c, _run, soft) => {
      const deployed = parseLogLines(fs.readFileSync(path.join(c.root, '.atomic-deploy/releases.log'), 'utf8')).find((entry) => entry.event === 'deployed')
      soft(deployed?.id, 'logged id').toBe(c.releaseId)
      soft(deployed?.ref, 'logged ref').toBe(`refs/heads/x${c.sub}${c.tick}${c.semi}","id":"../..'`)
      soft(deployed?.actor, 'logged actor').toBe(`a${c.sub}`)
    }
  }
]

// ---- running one case -------------------------------------------------------------

function writeScratch(c: Ctx, name: string, content: string): string {
  const file = path.join(scratch, `${c.n}-${name}`)
  fs.writeFileSync(file, content, { mode: 0o600 })
  return file
}

function remember(run: ActionRun): ActionRun {
  captured.push(run.stdout, run.stderr, run.summary, JSON.stringify(run.outputs), JSON.stringify(run.state))
  return run
}

function cli(args: string[]): Promise<ActionRun> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH!, HOME: scratch }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, outputs: {}, state: {}, summary: '' })
    })
  )
}

/** Every path under a folder, with type, mode, owner, link target and content hash. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name)
      const stat = fs.lstatSync(full)
      const rel = path.relative(root, full)
      if (stat.isSymbolicLink()) out.set(rel, `-> ${fs.readlinkSync(full)}`)
      else if (stat.isDirectory()) {
        out.set(rel, `dir ${stat.mode.toString(8)} ${stat.uid}`)
        walk(full)
      } else out.set(rel, `file ${stat.mode.toString(8)} ${stat.uid} ${createHash('sha256').update(fs.readFileSync(full)).digest('hex')}`)
    }
  }
  walk(root)
  return out
}

/** The entries of a parent snapshot that a deploy into `rootRel` may not change: all but the root, what is in it, and its ancestors. */
function outside(entries: Map<string, string>, rootRel: string): string[] {
  return [...entries].filter(([rel]) => rel !== rootRel && !rel.startsWith(`${rootRel}/`) && !rootRel.startsWith(`${rel}/`)).map(([rel, what]) => `${JSON.stringify(rel)} ${what}`)
}

function makeParent(server: TestServer, n: number): string {
  const parent = path.join(server.root, `case-${n}`)
  fs.mkdirSync(path.join(parent, 'bystander'), { recursive: true })
  fs.writeFileSync(path.join(parent, 'bystander/data.txt'), `bystander of case ${n}`)
  fs.writeFileSync(path.join(parent, 'app x'), 'a file a glob like "app *" would match')
  fs.symlinkSync('/etc', path.join(parent, 'etc-link'))
  for (const p of [parent, path.join(parent, 'bystander'), path.join(parent, 'bystander/data.txt'), path.join(parent, 'app x')]) fs.chownSync(p, deployUid, deployGid)
  return parent
}

function contextFor(n: number, server: TestServer): Ctx {
  const parent = makeParent(server, n)
  const canary = path.join(os.tmpdir(), `${CANARY_PREFIX}${n}`)
  return {
    n,
    server,
    parent,
    root: path.join(parent, 'app'),
    releaseId: `r${n}`,
    canary,
    sub: `$(touch ${canary})`,
    tick: `\`touch ${canary}\``,
    semi: `;touch ${canary};`
  }
}

interface Outcome {
  name: string
  expected: string
  got: string
  ok: boolean
}

async function runCase(testCase: Case, c: Ctx): Promise<Outcome> {
  const what = (detail: string) => `[${testCase.name}] ${detail}`
  const soft: Soft = (value, detail) => expect.soft(value, what(detail))
  const expected = testCase.refused ? `refused: ${testCase.refused}` : 'deploys'
  const parentBefore = snapshot(c.parent)
  const logBefore = c.server.log().length
  let run: ActionRun
  if (testCase.cli) {
    const connection = [
      '--host',
      `127.0.0.1:${c.server.port}`,
      '--username',
      c.server.username,
      '--path',
      c.root,
      '--release-id',
      c.releaseId,
      '--source',
      makeWorkspace({ 'index.html': `case ${c.n}` })
    ]
    const args = testCase.cli(c)
    if (!args.includes('--ssh-key-file')) connection.push('--ssh-key-file', writeScratch(c, 'good-key', c.server.userKey))
    if (!args.includes('--known-hosts-file')) connection.push('--known-hosts-file', writeScratch(c, 'good-known-hosts', c.server.knownHosts))
    run = remember(await cli(['deploy', ...connection, ...args]))
  } else {
    const overrides = testCase.inputs?.(c) ?? {}
    if (overrides['release-id']) c.releaseId = overrides['release-id']
    const inputs: Record<string, string> = {
      host: `127.0.0.1:${c.server.port}`,
      username: c.server.username,
      'ssh-key': c.server.userKey,
      'known-hosts': c.server.knownHosts,
      path: c.root,
      'release-id': c.releaseId,
      source: makeWorkspace({ 'index.html': `case ${c.n}`, ...(testCase.files?.(c) ?? {}) }),
      // The checks compare the release with the workspace, file for file: no revision file.
      'revision-file': 'false',
      ...overrides
    }
    if (testCase.firstFiles) {
      const first = remember(await runAction({ ...inputs, 'release-id': `${c.releaseId}-first`, source: makeWorkspace({ 'index.html': 'first', ...testCase.firstFiles }) }))
      soft(first.code, 'the first deploy').toBe(0)
    }
    run = remember(await runAction(inputs, { env: testCase.env?.(c) ?? {} }))
  }
  const printed = run.stdout + run.stderr
  // What a reader of the step log would see (the runner swallows ::add-mask:: lines), for messages.
  const readable = printed.split('\n').filter((l) => l && !/^::(add-mask|group|endgroup)::/.test(l))
  const lastLine = readable[readable.length - 1] ?? ''
  const refusedAs = /Invalid input '([^']+)'/.exec(printed)?.[1]
  const got = run.code === 0 ? 'deployed' : refusedAs ? `refused: ${refusedAs}` : `exit ${run.code}: ${lastLine.slice(0, 200)}`
  const ok = testCase.refused ? run.code === (testCase.cli ? 2 : 1) && refusedAs === testCase.refused : run.code === 0

  if (testCase.refused) {
    // (a) refused before connecting, naming the input.
    soft(run.code, `exit code (output: ${readable.join('\n').slice(-600)})`).toBe(testCase.cli ? 2 : 1)
    soft(printed.replace(/^::add-mask::.*$/gm, ''), 'names the input').toContain(
      testCase.cli ? `Invalid input '${testCase.refused}'` : `::error::Invalid input '${testCase.refused}'`
    )
    await sleep(50)
    soft(connectionLines(c.server.log().slice(logBefore)), 'sshd saw no connection').toEqual([])
    soft(outside(snapshot(c.parent), '\0none'), 'nothing changed on the server').toEqual(outside(parentBefore, '\0none'))
  } else {
    // (b) deployed, literally, and nothing outside path touched.
    const root = testCase.deployRoot?.(c) ?? c.root
    soft(run.code, `exit code (output: ${readable.join('\n').slice(-1500)})`).toBe(0)
    if (testCase.cli) {
      soft(run.stdout.trim().split('\n').pop(), 'release id printed').toBe(c.releaseId)
    } else {
      soft(run.outputs['release-id'], 'release-id output').toBe(c.releaseId)
      soft(run.outputs['release-path'], 'release-path output').toBe(`${root}/releases/${c.releaseId}`)
    }
    if (run.code === 0) {
      soft(fs.readlinkSync(path.join(root, 'current')), 'current').toBe(`releases/${c.releaseId}`)
      soft(inCurrent(c, root, 'index.html'), 'the release serves').toBe(`case ${c.n}`)
      soft(fs.existsSync(path.join(root, '.atomic-deploy/lock')), 'lock freed').toBe(false)
      try {
        testCase.check?.(c, run, soft)
      } catch (error) {
        soft(String(error), 'case check').toBe('no error')
      }
    }
    soft(outside(snapshot(c.parent), path.relative(c.parent, root)), 'nothing outside path touched').toEqual(outside(parentBefore, path.relative(c.parent, root)))
  }
  soft(fs.existsSync(c.canary), `canary ${c.canary}`).toBe(false)
  return { name: testCase.name, expected, got, ok }
}

/** Runs `work` on each item, at most `limit` at a time. */
async function eachLimited<T, R>(items: T[], limit: number, work: (item: T, worker: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async (_, worker) => {
      for (let guard = 0; guard < items.length && next < items.length; guard++) {
        const index = next++
        results[index] = await work(items[index], worker)
      }
    })
  )
  return results
}

describe('hostile inputs', () => {
  it(`${CASES.length} cases: each is refused before connecting, naming the input, or deploys safely and literally`, async () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40)
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length)
    const numbered = CASES.map((testCase, n) => ({ testCase, n }))
    const refusals = numbered.filter(({ testCase }) => testCase.refused)
    const deploys = numbered.filter(({ testCase }) => !testCase.refused)
    const started = Date.now()
    const [refusalOutcomes, deployOutcomes] = await Promise.all([
      // One at a time on the sentinel: a connection in its log belongs to exactly one case.
      eachLimited(refusals, 1, ({ testCase, n }) => runCase(testCase, contextFor(n, sentinel))),
      // Side by side, one case per pool server at a time.
      eachLimited(deploys, POOL_SIZE, ({ testCase, n }, worker) => runCase(testCase, contextFor(n, pool[worker])))
    ])
    const outcomes = [...refusalOutcomes, ...deployOutcomes]
    const table = outcomes.map((o) => `${o.ok ? 'ok  ' : 'FAIL'} ${o.name}: expected ${o.expected}, got ${o.got}`)
    console.log(`${outcomes.length} hostile cases in ${((Date.now() - started) / 1000).toFixed(1)} s:\n${table.join('\n')}`)
    // No canary of any case, anywhere.
    expect(fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith(CANARY_PREFIX))).toEqual([])
  }, 600_000) // a hang guard: about a minute alone, several on a busy machine

  it('no key line, passphrase or password appears in anything any run printed or wrote', () => {
    expect(captured.length).toBeGreaterThan(40)
    const secrets = [...keyBodyLines(sentinel.userKey), ...keyBodyLines(encryptedKey), PASSPHRASE, WRONG_PASSPHRASE, DEPLOY_USER_PASSWORD]
    expect(secretsShown(captured, secrets)).toEqual([])
  })
})
