import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { execFileSync } from 'child_process'
import { describe, expect, it } from 'vitest'
import { INPUTS } from '../../src/config/input-spec'
import { MAX_HOOKS_SENT_BYTES, inputOrDefault, parseSettings } from '../../src/config/inputs'

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-inputs-'))
fs.mkdirSync(path.join(workspace, 'build'))
const keyFile = path.join(workspace, 'key')
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile])
const KEY = fs.readFileSync(keyFile, 'utf8')
const encryptedKeyFile = path.join(workspace, 'key-enc')
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'sesame', '-f', encryptedKeyFile])
const ENCRYPTED_KEY = fs.readFileSync(encryptedKeyFile, 'utf8')

const base: Record<string, string> = { host: 'example.com', username: 'deploy', 'ssh-key': KEY, path: '/var/www/app' }
const env = { GITHUB_WORKSPACE: workspace, GITHUB_SHA: '1234567890abcdef', GITHUB_ACTOR: 'octocat' }

function parse(overrides: Record<string, string> = {}) {
  const inputs = { ...base, ...overrides }
  return parseSettings((name) => inputs[name] ?? '', env, new Date('2026-01-02T03:04:05Z'))
}

describe('parseSettings', () => {
  it('applies the documented defaults', () => {
    const s = parse()
    expect(s.targets).toEqual([{ host: 'example.com', port: 22 }])
    expect(s.deployPath).toBe('/var/www/app')
    expect(s.sourceDir).toBe(workspace)
    expect(s.exclude).toEqual(['.git'])
    expect(s.releaseId).toBe('20260102030405-1234567')
    expect(s.keep).toBe(5)
    expect(s.revertOnFailure).toBe(true)
    expect(s.connectTimeoutSeconds).toBe(30)
    expect(s.hostKey).toEqual({ mode: 'unpinned' })
    expect(s.provenance.actor).toBe('octocat')
  })

  it.each([
    ['example.com:2222', { host: 'example.com', port: 2222 }],
    ['[::1]:2200', { host: '::1', port: 2200 }],
    ['::1', { host: '::1', port: 22 }],
    ['10.0.0.5', { host: '10.0.0.5', port: 22 }]
  ])('reads host %s', (host, expected) => {
    expect(parse({ host }).targets).toEqual([expected])
  })

  it('reads several hosts, one a line or comma-separated', () => {
    expect(parse({ host: 'web1\nweb2:2222, [::1]:22' }).targets).toEqual([
      { host: 'web1', port: 22 },
      { host: 'web2', port: 2222 },
      { host: '::1', port: 22 }
    ])
  })

  it('derives the default release id from the workflow run when asked, so matrix jobs agree', () => {
    const inputs = { ...base }
    const runEnv = { ...env, GITHUB_RUN_ID: '987654', GITHUB_RUN_ATTEMPT: '2' }
    const a = parseSettings((name) => inputs[name] ?? '', runEnv, new Date('2026-01-01T00:00:00Z'), { releaseIdFromRun: true })
    const b = parseSettings((name) => inputs[name] ?? '', runEnv, new Date('2026-01-01T00:09:59Z'), { releaseIdFromRun: true })
    expect(a.releaseId).toBe('run987654.2-1234567')
    expect(b.releaseId).toBe(a.releaseId)
    expect(parseSettings((name) => inputs[name] ?? '', runEnv, new Date('2026-01-01T00:00:00Z')).releaseId).toBe('20260101000000-1234567')
  })

  it('reads a jump host with its own key and host key pin', () => {
    const s = parse({ 'proxy-host': 'bastion.example.com:2200', 'proxy-ssh-key': KEY, 'proxy-host-fingerprint': `SHA256:${'b'.repeat(43)}` })
    expect(s.proxy?.address).toEqual({ host: 'bastion.example.com', port: 2200 })
    expect(s.proxy?.credentials.username).toBe('deploy')
    expect(s.proxy?.hostKey.mode).toBe('fingerprint')
  })

  it('uses port when host names none', () => {
    expect(parse({ port: '2022' }).targets[0].port).toBe(2022)
  })

  it.each([
    [{ host: '' }, "'host'"],
    [{ host: 'a b' }, "'host'"],
    [{ host: 'x;rm -rf /' }, "'host'"],
    [{ host: '-oProxyCommand=x' }, "'host'"],
    [{ host: 'h:99999' }, "'host'"],
    [{ port: 'abc' }, "'port'"],
    [{ path: 'relative/dir' }, "'path'"],
    [{ path: '/' }, "'path'"],
    [{ path: '/etc' }, "'path'"],
    [{ path: '/etc/' }, "'path'"],
    [{ path: '~/app' }, "'path'"],
    [{ path: '/srv/../etc' }, "'path'"],
    [{ path: '/srv/app\nx' }, "'path'"],
    [{ keep: '0' }, "'keep'"],
    [{ keep: '-1' }, "'keep'"],
    [{ keep: '1e3' }, "'keep'"],
    [{ keep: 'abc' }, "'keep'"],
    [{ 'release-id': '../x' }, "'release-id'"],
    [{ 'release-id': '-rf' }, "'release-id'"],
    [{ 'release-id': 'a b' }, "'release-id'"],
    [{ 'release-id': '$(touch x)' }, "'release-id'"],
    [{ 'release-id': '.hidden' }, "'release-id'"],
    [{ shared: '/etc/passwd' }, "'shared'"],
    [{ shared: '../up' }, "'shared'"],
    [{ shared: 'a/../b' }, "'shared'"],
    [{ shared: 'storage/\nstorage/logs' }, "'shared'"],
    [{ shared: '.env\n.env' }, "'shared'"],
    [{ 'ssh-key': '' }, "'ssh-key'"],
    [{ 'ssh-key': 'not a key' }, "'ssh-key'"],
    [{ 'ssh-key': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample user@host' }, "'ssh-key'"],
    [{ 'ssh-key': ENCRYPTED_KEY }, "'ssh-key-passphrase'"],
    [{ 'ssh-key': ENCRYPTED_KEY, 'ssh-key-passphrase': 'wrong' }, "'ssh-key-passphrase'"],
    [{ username: 'root; id' }, "'username'"],
    [{ 'host-fingerprint': 'MD5:aa:bb' }, "'host-fingerprint'"],
    [{ 'host-fingerprint': `ssh-foo SHA256:${'a'.repeat(43)}` }, "'host-fingerprint'"],
    [{ 'proxy-host': 'bastion', 'proxy-ssh-key': KEY, 'proxy-host-fingerprint': `DSS SHA256:${'a'.repeat(43)}` }, "'proxy-host-fingerprint'"],
    [{ 'known-hosts': 'garbage' }, "'known-hosts'"],
    [{ 'strict-host-key': 'maybe' }, "'strict-host-key'"],
    [{ source: 'missing-folder' }, "'source'"],
    [{ 'connect-timeout': '0' }, "'connect-timeout'"],
    [{ compression: 'lz4' }, "'compression'"],
    [{ 'before-activate': 'a\0b' }, "'before-activate'"],
    [{ host: 'web1\nweb1' }, "'host'"],
    [{ host: 'web1\nweb2', 'host-fingerprint': `SHA256:${'a'.repeat(43)}` }, "'host-fingerprint'"],
    [{ 'max-parallel': '0' }, "'max-parallel'"],
    [{ 'before-activate-on': 'last' }, "'before-activate-on'"],
    [{ 'proxy-host': 'bastion;x' }, "'proxy-host'"],
    [{ 'proxy-host': 'bastion', 'proxy-ssh-key': 'nope' }, "'proxy-ssh-key'"],
    [{ retries: '-1' }, "'retries'"],
    [{ 'compression-level': '0' }, "'compression-level'"],
    [{ 'compression-level': '20' }, "'compression-level'"],
    [{ compression: 'gzip', 'compression-level': '12' }, "'compression-level'"]
  ])('refuses %j naming the input', (overrides, name) => {
    expect(() => parse(overrides)).toThrow(`Invalid input ${name}`)
  })

  it('takes a hook as large as the cap allows once quoted, single quotes counted as sent', () => {
    // 47 KB of single quotes is 188 KB quoted: once too long for argv, now within the cap.
    const quotes = "'".repeat(47_000)
    expect(parse({ 'before-activate': quotes }).beforeActivate).toBe(quotes)
    const fits = 'x'.repeat(MAX_HOOKS_SENT_BYTES - 5) // quoted: 2 bytes more, and 'y' quoted is 3
    expect(parse({ 'after-activate': fits, 'before-activate': 'y' }).afterActivate).toBe(fits)
  })

  it.each([
    [{ 'before-activate': "'".repeat(65_536) }, 'before-activate', 'is 257 KiB as sent to the server'],
    [{ 'after-activate': 'x'.repeat(MAX_HOOKS_SENT_BYTES) }, 'after-activate', 'is 257 KiB as sent to the server'],
    [{ 'before-activate': "'".repeat(40_000), 'after-activate': "'".repeat(30_000) }, 'before-activate', '(after-activate is 118 KiB)']
  ])('refuses hooks over the cap as sent, naming the input and the fix (%#)', (overrides, input, detail) => {
    expect(() => parse(overrides)).toThrow(`Invalid input '${input}'`)
    expect(() => parse(overrides)).toThrow(detail)
    expect(() => parse(overrides)).toThrow('put the commands in a script inside the release and call it')
  })

  it('repairs a key pasted with Windows line ends and no final newline', () => {
    const pasted = KEY.trim().replace(/\n/g, '\r\n')
    expect(parse({ 'ssh-key': pasted }).credentials.privateKey).toBe(KEY)
  })

  it('opens an encrypted key with its passphrase', () => {
    expect(parse({ 'ssh-key': ENCRYPTED_KEY, 'ssh-key-passphrase': 'sesame' }).credentials.passphrase).toBe('sesame')
  })

  it('accepts a password instead of a key', () => {
    expect(parse({ 'ssh-key': '', password: 'pw' }).credentials).toEqual({ username: 'deploy', password: 'pw' })
  })

  it('never puts key material in an error message', () => {
    const broken = KEY.replace(/\n([A-Za-z0-9+/]{10})/, '\n!!!!!!!!!!')
    try {
      parse({ 'ssh-key': broken })
      throw new Error('expected a failure')
    } catch (error) {
      const body = KEY.split('\n')[2]
      expect((error as Error).message).not.toContain(body)
    }
  })

  it('reads shared entries, marking folders', () => {
    expect(parse({ shared: 'storage/\n.env\n\n# comment\nconfig/app.ini' }).shared).toEqual([
      { path: 'storage', isDirectory: true },
      { path: '.env', isDirectory: false },
      { path: 'config/app.ini', isDirectory: false }
    ])
  })

  it('normalises the deploy path', () => {
    expect(parse({ path: '/srv//app/' }).deployPath).toBe('/srv/app')
  })

  it('chooses the host key policy', () => {
    expect(parse({ 'strict-host-key': 'false' }).hostKey).toEqual({ mode: 'insecure' })
    const fp = `SHA256:${'a'.repeat(43)}`
    expect(parse({ 'host-fingerprint': fp }).hostKey).toEqual({ mode: 'fingerprint', fingerprint: fp })
    expect(parse({ 'host-fingerprint': `ECDSA ${fp}` }).hostKey).toEqual({ mode: 'fingerprint', fingerprint: fp, keyType: 'ECDSA' })
  })

  it('resolves source inside the workspace and reads exclude lines', () => {
    const s = parse({ source: 'build', exclude: 'node_modules/\n*.log' })
    expect(s.sourceDir).toBe(path.join(workspace, 'build'))
    expect(s.exclude).toEqual(['.git', 'node_modules/', '*.log'])
  })

  it('keeps .git first whatever exclude says, and refuses a line that names no path', () => {
    expect(parse({ exclude: '!.git\n# a comment\n\n*.log' }).exclude).toEqual(['.git', '!.git', '*.log'])
    for (const line of ['!', '/', '!/']) expect(() => parse({ exclude: line })).toThrow(`Invalid input 'exclude': ${JSON.stringify(line)} names no path`)
  })
})

describe('defaults', () => {
  /** For each input with a default: another valid value, and what else it needs to be read at all. */
  const OTHER_VALUE: Record<string, { value: string; with?: Record<string, string> }> = {
    mode: { value: 'list' },
    port: { value: '2222' },
    'strict-host-key': { value: 'false' },
    source: { value: 'build' },
    'allow-empty': { value: 'true' },
    keep: { value: '3' },
    'revert-on-failure': { value: 'false' },
    'command-timeout': { value: '7' },
    incremental: { value: 'false' },
    'hardlink-releases': { value: 'true' },
    compression: { value: 'gzip' },
    'lock-timeout': { value: '9' },
    retries: { value: '4' },
    'max-parallel': { value: '3' },
    'before-activate-on': { value: 'first' },
    'proxy-strict-host-key': { value: 'false', with: { 'proxy-host': 'bastion', 'proxy-password': 'pw' } },
    'shared-auto': { value: 'true' },
    'dry-run': { value: 'true' },
    'connect-timeout': { value: '31' },
    'health-status': { value: '200', with: { 'health-url': 'http://127.0.0.1/health' } },
    'health-timeout': { value: '5', with: { 'health-url': 'http://127.0.0.1/health' } },
    'health-interval': { value: '2', with: { 'health-url': 'http://127.0.0.1/health' } },
    rollout: { value: 'canary' },
    'batch-size': { value: '2' },
    'revision-file': { value: 'public/REVISION' },
    'env-file-path': { value: 'config/.env', with: { 'env-file': 'A=1' } },
    'writable-mode': { value: 'chgrp', with: { writable: 'storage/', 'writable-user': 'www-data' } }
  }
  const defaulted = INPUTS.filter((input) => input.default !== undefined)

  it('covers every input the spec gives a default', () => {
    expect(Object.keys(OTHER_VALUE).sort()).toEqual(defaulted.map((input) => input.name).sort())
  })

  it.each(defaulted.map((input) => [input.name, input] as const))('%s: unset means the spec default', (name, input) => {
    const needs = OTHER_VALUE[name].with ?? {}
    expect(parse(needs)).toEqual(parse({ ...needs, [name]: input.default ?? '' }))
    expect(parse({ ...needs, [name]: '' })).toEqual(parse(needs))
  })

  it.each(defaulted.map((input) => [input.name, input] as const))('%s: parseSettings reads its default from the spec, not a copy', (name, input) => {
    const { value, with: needs = {} } = OTHER_VALUE[name]
    const original = input.default
    input.default = value
    try {
      expect(parse(needs)).toEqual(parse({ ...needs, [name]: value }))
    } finally {
      input.default = original
    }
    expect(parse(needs)).not.toEqual(parse({ ...needs, [name]: value }))
  })

  it('inputOrDefault trims one-line inputs and keeps the lines of multi-line ones', () => {
    const read = (name: string): string => ({ keep: ' 3 ', exclude: ' a\nb ' })[name] ?? ''
    expect(inputOrDefault(read, 'keep')).toBe('3')
    expect(inputOrDefault(read, 'exclude')).toBe(' a\nb ')
    expect(inputOrDefault(read, 'port')).toBe('22')
    expect(() => inputOrDefault(read, 'release-id')).toThrow("Input 'release-id' has no default")
    expect(() => inputOrDefault(read, 'no-such-input')).toThrow("No input named 'no-such-input'")
  })
})

describe('health checks, rollout and the revision file', () => {
  it('reads the health inputs, with their defaults, only when a check is set', () => {
    expect(parse().health).toBeUndefined()
    expect(parse({ 'health-url': 'http://127.0.0.1/health\n\nhttps://app.example/up', 'health-expect': '{release-id}' }).health).toEqual({
      urls: ['http://127.0.0.1/health', 'https://app.example/up'],
      command: '',
      expect: '{release-id}',
      status: [[200, 399]],
      timeoutSeconds: 30,
      intervalSeconds: 1
    })
    expect(parse({ 'health-command': 'test -f ok\r\n', 'health-status': '200, 204,300-302' }).health).toMatchObject({
      command: 'test -f ok',
      status: [
        [200, 200],
        [204, 204],
        [300, 302]
      ]
    })
  })

  it('writes the URL scheme in lower case, as BusyBox wget only takes it ("not an http or ftp url: HTTP://...")', () => {
    expect(parse({ 'health-url': 'HTTPS://App.Example/Up' }).health?.urls).toEqual(['https://App.Example/Up'])
  })

  it('refuses health values it cannot check, naming the input', () => {
    expect(() => parse({ 'health-url': 'localhost/health' })).toThrow('Invalid input \'health-url\': "localhost/health" is not an http:// or https:// URL')
    expect(() => parse({ 'health-url': 'http://x/', 'health-status': '200-' })).toThrow("Invalid input 'health-status'")
    expect(() => parse({ 'health-url': 'http://x/', 'health-status': '399-200' })).toThrow("Invalid input 'health-status'")
    expect(() => parse({ 'health-expect': 'ok' })).toThrow("Invalid input 'health-expect': is set, but there is no health-url")
    expect(() => parse({ 'health-url': 'http://x/', 'health-timeout': '0' })).toThrow("Invalid input 'health-timeout'")
    // One try, ended at once, would be reported as failing "in health-timeout".
    expect(() => parse({ 'health-url': 'http://x/', 'health-timeout': '3', 'health-interval': '10' })).toThrow(
      "Invalid input 'health-interval': 10 s is longer than health-timeout (3 s)"
    )
    expect(() => parse({ rollout: 'blue-green' })).toThrow('Invalid input \'rollout\': "blue-green" is not one of together, canary, rolling')
  })

  it('writes REVISION by default, another path when asked, none for false', () => {
    expect(parse().revisionFile).toBe('REVISION')
    expect(parse({ 'revision-file': 'public//REVISION' }).revisionFile).toBe('public/REVISION')
    expect(parse({ 'revision-file': 'false' }).revisionFile).toBe('')
    for (const bad of ['/etc/REVISION', '../REVISION', 'a/./b']) expect(() => parse({ 'revision-file': bad })).toThrow("Invalid input 'revision-file'")
    // Written through the link into shared/, it would be there already at the next deploy, which would fail.
    expect(() => parse({ shared: 'storage/', 'revision-file': 'storage/REVISION' })).toThrow(
      'Invalid input \'revision-file\': "storage/REVISION" lies inside the shared entry "storage"'
    )
    expect(() => parse({ shared: 'REVISION', 'revision-file': 'REVISION' })).toThrow('Invalid input \'revision-file\': "REVISION" is also a shared entry')
  })

  it('refuses, before connecting, a workspace that already has the revision file', () => {
    fs.writeFileSync(path.join(workspace, 'build', 'REVISION'), 'mine\n')
    try {
      expect(() => parse({ source: 'build' })).toThrow('Invalid input \'revision-file\': the workspace already has "REVISION"')
      expect(parse({ source: 'build', 'revision-file': 'false' }).revisionFile).toBe('')
    } finally {
      fs.rmSync(path.join(workspace, 'build', 'REVISION'))
    }
  })

  it('refuses a revision file under a folder of the workspace that is a symlink (the server would write through it, out of the release)', () => {
    fs.symlinkSync('/var/www/static', path.join(workspace, 'build', 'public'))
    try {
      expect(() => parse({ source: 'build', 'revision-file': 'public/REVISION' })).toThrow(
        'Invalid input \'revision-file\': "public" in "public/REVISION" is a symlink in the workspace'
      )
    } finally {
      fs.rmSync(path.join(workspace, 'build', 'public'))
    }
  })
})
