import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { quote } from './shell-quote'
import { Compression, DeploySettings, HostAddress, HostKeyPolicy, Mode, Provenance, ProxySettings, UploadSettings } from './settings'
import { InputError, shown } from './input-error'
import { parseHostAddress, parsePort } from './host-address'
import { checkPrivateKey, repairPrivateKey } from './ssh-key'
import { checkReleaseId, defaultReleaseId } from './release-id'
import { parseSharedEntries } from './shared-paths'
import { parseFingerprint, pinnedKeys } from './known-hosts'
import { inputDefault, inputSpec } from './input-spec'
import { hasControlCharacter } from './control-characters'
import { parseExclude } from './exclude'
import { parseHealth, parseRevisionFile } from './health'
import { parseEnvFile } from './env-file'
import { parseWritable } from './writable'
import { isUserName } from './user-name'

/** Reads one input by its action name (`ssh-key`); returns '' when unset. */
export type InputReader = (name: string) => string

/**
 * The input's value, or its default from the input spec (src/config/input-spec.ts)
 * when it is empty: the one place a default is applied. Trimmed, except
 * multi-line inputs, whose lines are the reader's business.
 */
export function inputOrDefault(read: InputReader, name: string): string {
  const text = inputSpec(name).lines ? read(name) : read(name).trim()
  return text === '' ? inputDefault(name) : text
}

/** Folders that must never become a deploy root. */
const SYSTEM_DIRECTORIES = new Set(['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/proc', '/root', '/run', '/sbin', '/sys', '/tmp', '/usr', '/var'])

/**
 * Turns raw inputs into one typed settings object, validating as it goes.
 * `env` supplies the GitHub context (sha, actor, workspace); `now` the clock.
 */
export interface ParseOptions {
  /** The action: default release id from the workflow run, the same in every matrix job. */
  releaseIdFromRun?: boolean
}

export function parseSettings(read: InputReader, env: NodeJS.ProcessEnv, now = new Date(), options: ParseOptions = {}): DeploySettings {
  const get = (name: string): string => read(name).trim()
  const value = (name: string): string => inputOrDefault(read, name)
  const mode = parseChoice<Mode>(value('mode'), 'mode', ['deploy', 'rollback', 'list', 'unlock'])
  const port = parsePort(value('port'))
  const targets = parseHostList(required(get, 'host'), port)
  const provenance = readProvenance(env)
  const releaseIdText = get('release-id')
  const hostKey = parseHostKeyPolicy(read('known-hosts'), get('host-fingerprint'), value('strict-host-key'), targets, '')
  const shared = parseSharedEntries(read('shared'))
  const settings: DeploySettings = {
    mode,
    targets,
    credentials: parseCredentials(read, required(get, 'username')),
    hostKey,
    proxy: parseProxy(read, get, value),
    maxParallel: parseWholeNumber(value('max-parallel'), 'max-parallel', 1, 100),
    beforeActivateOn: parseChoice(value('before-activate-on'), 'before-activate-on', ['all', 'first'] as const),
    connectTimeoutSeconds: parseWholeNumber(value('connect-timeout'), 'connect-timeout', 1, 3600),
    retries: parseWholeNumber(value('retries'), 'retries', 0, 10),
    deployPath: parseDeployPath(required(get, 'path')),
    ...parseUploadSettings(read, env, mode === 'deploy'),
    releaseId: releaseIdText ? checkReleaseId(releaseIdText) : options.releaseIdFromRun && env.GITHUB_RUN_ID ? runReleaseId(env) : defaultReleaseId(now, provenance.sha),
    releaseIdGiven: releaseIdText !== '',
    keep: parseWholeNumber(value('keep'), 'keep', 1, 1000),
    shared,
    envFile: parseEnvFile(read('env-file'), value('env-file-path'), shared),
    writable: parseWritable(read('writable'), value('writable-mode'), get('writable-user')),
    sharedAuto: parseBoolean(value('shared-auto'), 'shared-auto'),
    dryRun: parseBoolean(value('dry-run'), 'dry-run'),
    beforeActivate: parseHook(read('before-activate'), 'before-activate'),
    afterActivate: parseHook(read('after-activate'), 'after-activate'),
    revertOnFailure: parseBoolean(value('revert-on-failure'), 'revert-on-failure'),
    commandTimeoutSeconds: parseWholeNumber(value('command-timeout'), 'command-timeout', 0, 86400),
    hardlinkReleases: parseBoolean(value('hardlink-releases'), 'hardlink-releases'),
    lockTimeoutSeconds: parseWholeNumber(value('lock-timeout'), 'lock-timeout', 0, 3600),
    provenance,
    health: parseHealth(read, value, parseWholeNumber),
    rollout: parseChoice(value('rollout'), 'rollout', ['together', 'canary', 'rolling'] as const),
    batchSize: parseWholeNumber(value('batch-size'), 'batch-size', 1, 1000)
  }
  if (mode === 'deploy') settings.revisionFile = parseRevisionFile(value('revision-file'), settings.sourceDir, shared)
  checkHooksAsSent(settings.beforeActivate, settings.afterActivate)
  if (settings.dryRun && settings.mode !== 'deploy') {
    throw new InputError('dry-run', `is for deploys only; mode ${settings.mode} does not take it.`)
  }
  return settings
}

/**
 * The inputs that decide the upload stream, for a deploy and for `pack`;
 * `withSource` false (modes that upload nothing) leaves the source unread.
 */
export function parseUploadSettings(read: InputReader, env: NodeJS.ProcessEnv, withSource = true): UploadSettings {
  const value = (name: string): string => inputOrDefault(read, name)
  const levelText = read('compression-level').trim()
  const settings: UploadSettings = {
    sourceDir: withSource ? parseSourceDir(value('source'), env) : '',
    exclude: parseExclude(read('exclude')),
    allowEmpty: parseBoolean(value('allow-empty'), 'allow-empty'),
    compression: parseChoice<Compression>(value('compression'), 'compression', ['auto', 'gzip', 'zstd', 'none']),
    compressionLevel: levelText ? parseWholeNumber(levelText, 'compression-level', 1, 19) : undefined,
    incremental: parseBoolean(value('incremental'), 'incremental')
  }
  if (settings.compressionLevel !== undefined && settings.compression === 'gzip' && settings.compressionLevel > 9) {
    throw new InputError('compression-level', `${settings.compressionLevel} is above gzip's highest level, 9.`)
  }
  return settings
}

function required(get: (name: string) => string, name: string): string {
  const value = get(name)
  if (!value) throw new InputError(name, `it is required and was not given (in the action: '${name}:' under 'with:'; on the command line: --${name}).`)
  return value
}

/** `host` may hold several servers, one a line or separated by commas. */
function parseHostList(text: string, port: number): HostAddress[] {
  const entries = text
    .split(/[\n,]/)
    .map((entry) => entry.trim())
    .filter(Boolean)
  const targets = entries.map((entry) => parseHostAddress(entry, port))
  const seen = new Set<string>()
  for (const target of targets) {
    const key = `${target.host}:${target.port}`
    if (seen.has(key)) throw new InputError('host', `${shown(key)} is listed twice.`)
    seen.add(key)
  }
  return targets
}

function parseCredentials(read: InputReader, username: string, prefix = ''): DeploySettings['credentials'] {
  const input = (name: string): string => `${prefix}${name}`
  if (!isUserName(username)) {
    throw new InputError(input('username'), `${shown(username)} is not a user name. Expected letters, digits and . _ - @.`)
  }
  const keyText = read(input('ssh-key'))
  const passphrase = read(input('ssh-key-passphrase')) || undefined
  const password = read(input('password')) || undefined
  if (!keyText.trim() && !password) {
    throw new InputError(input('ssh-key'), `no credentials: set ${input('ssh-key')} (a private key, from a secret) or ${input('password')}.`)
  }
  if (!keyText.trim()) return { username, password }
  const privateKey = repairPrivateKey(keyText)
  checkPrivateKey(privateKey, passphrase, input('ssh-key'))
  return { username, privateKey, passphrase, password }
}

function parseHostKeyPolicy(knownHosts: string, fingerprint: string, strictText: string, targets: HostAddress[], prefix: string): HostKeyPolicy {
  if (knownHosts.trim()) {
    const policy: HostKeyPolicy = { mode: 'known-hosts', knownHosts }
    // Throws now, before connecting, when no usable line is for one of the hosts.
    for (const target of targets) pinnedKeys(policy, target, `${prefix}known-hosts`)
    return policy
  }
  if (fingerprint) {
    if (targets.length > 1) {
      throw new InputError(`${prefix}host-fingerprint`, 'pins one key, but several hosts are listed; use known-hosts with a line for each host.')
    }
    return { mode: 'fingerprint', ...parseFingerprint(fingerprint, `${prefix}host-fingerprint`) }
  }
  const strict = parseBoolean(strictText, `${prefix}strict-host-key`)
  return strict ? { mode: 'unpinned' } : { mode: 'insecure' }
}

/** The jump host: `proxy-host` turns it on; its key and host key are checked like the target's. */
function parseProxy(read: InputReader, get: (name: string) => string, value: (name: string) => string): ProxySettings | undefined {
  const hostText = get('proxy-host')
  if (!hostText) return undefined
  const address = parseHostAddress(hostText, 22, 'proxy-host')
  const credentials = parseCredentials(read, get('proxy-username') || required(get, 'username'), 'proxy-')
  const hostKey = parseHostKeyPolicy(read('proxy-known-hosts'), get('proxy-host-fingerprint'), value('proxy-strict-host-key'), [address], 'proxy-')
  return { address, credentials, hostKey }
}

/** The same in every job of one workflow run attempt, unique across runs and re-runs. */
function runReleaseId(env: NodeJS.ProcessEnv): string {
  const sha = env.GITHUB_SHA && /^[0-9a-f]{7,}$/i.test(env.GITHUB_SHA) ? `-${env.GITHUB_SHA.slice(0, 7).toLowerCase()}` : ''
  return checkReleaseId(`run${env.GITHUB_RUN_ID}.${env.GITHUB_RUN_ATTEMPT || '1'}${sha}`, 'release-id')
}

/** Absolute, normalised, and not a system folder. */
export function parseDeployPath(text: string): string {
  const fail = (why: string): never => {
    throw new InputError('path', `${shown(text)} ${why}. Expected the absolute deploy root on the server, e.g. /var/www/myapp.`)
  }
  if (!text.startsWith('/')) fail('is not an absolute path')
  if (hasControlCharacter(text)) fail('contains a control character')
  const segments = text.split('/').filter((s) => s !== '')
  if (segments.some((s) => s === '.' || s === '..')) fail("contains '.' or '..'")
  if (segments.some((s) => Buffer.byteLength(s) > 255)) fail('has a part longer than 255 bytes')
  const normalised = `/${segments.join('/')}`
  if (Buffer.byteLength(normalised) > 3000) fail('is longer than 3000 bytes, too long to hold releases')
  if (SYSTEM_DIRECTORIES.has(normalised)) fail('is a system folder, not a place for an application')
  return normalised
}

function parseSourceDir(text: string, env: NodeJS.ProcessEnv): string {
  const workspace = env.GITHUB_WORKSPACE || process.cwd()
  const dir = path.resolve(workspace, text)
  let stat: fs.Stats | undefined
  try {
    stat = fs.statSync(dir)
  } catch {
    stat = undefined
  }
  if (!stat?.isDirectory()) {
    throw new InputError('source', `folder ${shown(text)} does not exist in ${workspace}. Build first, or point source at the build output.`)
  }
  return dir
}

function parseHook(text: string, input: string): string {
  if (text.includes('\0')) throw new InputError(input, 'contains a NUL character.')
  return text.replace(/\r\n?/g, '\n').trim()
}

/**
 * The hooks travel in the script, quoted (a single quote becomes four
 * bytes), and a rollback's script carries both. The script goes on stdin, so
 * no argv limit applies; this cap keeps it a script rather than a payload,
 * and is checked here, on what is really sent, so that it fails before any
 * connection.
 */
export const MAX_HOOKS_SENT_BYTES = 256 * 1024

function checkHooksAsSent(beforeActivate: string, afterActivate: string): void {
  const sent = (hook: string): number => Buffer.byteLength(quote(hook))
  const before = sent(beforeActivate)
  const after = sent(afterActivate)
  if (before + after <= MAX_HOOKS_SENT_BYTES) return
  const [input, other] = before >= after ? ['before-activate', 'after-activate'] : ['after-activate', 'before-activate']
  const detail = `is ${Math.ceil(Math.max(before, after) / 1024)} KiB as sent to the server (quoted: each ' counts 4 bytes), and the two hooks together may be at most ${MAX_HOOKS_SENT_BYTES / 1024} KiB`
  throw new InputError(
    input,
    `${detail}${Math.min(before, after) > 2 ? ` (${other} is ${Math.ceil(Math.min(before, after) / 1024)} KiB)` : ''}; put the commands in a script inside the release and call it.`
  )
}

export function parseWholeNumber(text: string, input: string, min: number, max: number): number {
  const value = /^\d{1,7}$/.test(text) ? Number(text) : NaN
  if (!(value >= min && value <= max)) {
    throw new InputError(input, `${shown(text)} is not a whole number from ${min} to ${max}.`)
  }
  return value
}

export function parseBoolean(text: string, input: string): boolean {
  if (/^(true|yes|on)$/i.test(text)) return true
  if (/^(false|no|off)$/i.test(text)) return false
  throw new InputError(input, `${shown(text)} is not true or false.`)
}

function parseChoice<T extends string>(text: string, input: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(text)) return text as T
  throw new InputError(input, `${shown(text)} is not one of ${choices.join(', ')}.`)
}

/** Where the deploy comes from, read from GitHub's variables, else GitLab's or Jenkins's. */
function readProvenance(env: NodeJS.ProcessEnv): Provenance {
  const server = env.GITHUB_SERVER_URL || 'https://github.com'
  const githubRun =
    env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
      ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}${env.GITHUB_RUN_ATTEMPT ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''}`
      : undefined
  const first = (...values: Array<string | undefined>): string | undefined => values.find((value) => value) || undefined
  return {
    sha: first(env.GITHUB_SHA, env.CI_COMMIT_SHA, env.GIT_COMMIT),
    ref: first(env.GITHUB_REF, env.CI_COMMIT_REF_NAME, env.GIT_BRANCH),
    actor: first(env.GITHUB_ACTOR, env.GITLAB_USER_LOGIN, env.BUILD_USER_ID),
    runUrl: first(githubRun, env.CI_JOB_URL, env.BUILD_URL),
    runner: `${os.hostname()} pid ${process.pid}`
  }
}
