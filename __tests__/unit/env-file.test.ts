/**
 * env-file and env-file-path: what reaches the server, and what is refused
 * before connecting, each with a message naming the input.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseSettings } from '../../src/config/inputs'
import { MAX_ENV_FILE_BYTES } from '../../src/config/env-file'
import { parseCommandLine } from '../../src/cli/args'
import { planRelease } from '../../src/remote/plan'
import { prepareScript } from '../../src/remote/scripts'
import { quote } from '../../src/config/shell-quote'

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-env-file-'))
afterAll(() => fs.rmSync(workspace, { recursive: true, force: true }))

const base: Record<string, string> = { host: 'example.com', username: 'deploy', password: 'pw', path: '/var/www/app' }

function parse(overrides: Record<string, string>) {
  const inputs = { ...base, ...overrides }
  return parseSettings((name) => inputs[name] ?? '', { GITHUB_WORKSPACE: workspace })
}

describe('env-file', () => {
  it('is written at .env by default, with LF line ends and a final newline', () => {
    expect(parse({ 'env-file': 'APP_KEY=base64:abc\r\nDB_PASSWORD=hunter2' }).envFile).toEqual({ path: '.env', text: 'APP_KEY=base64:abc\nDB_PASSWORD=hunter2\n' })
  })

  it('goes to env-file-path, and is absent when empty', () => {
    expect(parse({ 'env-file': 'A=1\n', 'env-file-path': 'config/app.env' }).envFile).toEqual({ path: 'config/app.env', text: 'A=1\n' })
    expect(parse({ 'env-file': '  \n' }).envFile).toBeUndefined()
  })

  it.each([
    [{ 'env-file-path': '/etc/app.env' }, 'is absolute'],
    [{ 'env-file-path': '../.env' }, "contains '.' or '..'"],
    [{ 'env-file-path': 'config/../.env' }, "contains '.' or '..'"],
    [{ 'env-file-path': 'config/' }, 'names a file'],
    [{ 'env-file-path': '.env', shared: 'storage/\n.env' }, 'is also a shared entry'],
    [{ 'env-file-path': 'config/.env', shared: 'config/' }, 'lies inside the shared entry "config"'],
    [{ 'env-file': 'A=1\n\0B=2' }, 'contains a NUL byte'],
    [{ 'env-file': 'A'.repeat(MAX_ENV_FILE_BYTES + 1) }, `at most ${MAX_ENV_FILE_BYTES / 1024} KiB`]
  ])('refuses %o before connecting, naming the input', (inputs, detail) => {
    const input = 'env-file-path' in inputs ? 'env-file-path' : 'env-file'
    expect(() => parse({ 'env-file': 'A=1', ...inputs })).toThrow(`Invalid input '${input}'`)
    expect(() => parse({ 'env-file': 'A=1', ...inputs })).toThrow(detail)
  })

  it('travels inside the prepare script (sent on stdin), quoted, as one value', () => {
    const settings = parse({ 'env-file': "DB_PASSWORD=it's\nX=$(id)" })
    const script = prepareScript(planRelease(settings, 1, 0o755, 'none'))
    expect(script).toContain(`ENV_FILE_TEXT=${quote("DB_PASSWORD=it's\nX=$(id)\n")}`)
    expect(script).toContain("ENV_FILE_PATH='.env'")
  })
})

describe('env-file on the command line', () => {
  it('is refused as a flag: its text would be in argv', () => {
    expect(() => parseCommandLine(['deploy', '--env-file', 'DB_PASSWORD=x'], {})).toThrow('--env-file-file <path> or the environment variable ATOMIC_DEPLOY_ENV_FILE')
  })

  it('comes from --env-file-file, or from ATOMIC_DEPLOY_ENV_FILE', () => {
    const file = path.join(workspace, 'production.env')
    fs.writeFileSync(file, 'DB_PASSWORD=hunter2\n')
    const fromFile = parseCommandLine(['deploy', '--env-file-file', file], {})
    expect('read' in fromFile && fromFile.read('env-file')).toBe('DB_PASSWORD=hunter2\n')
    const fromEnv = parseCommandLine(['deploy', '--env-file-path', 'config/.env'], { ATOMIC_DEPLOY_ENV_FILE: 'X=1' })
    expect('read' in fromEnv && [fromEnv.read('env-file'), fromEnv.read('env-file-path')]).toEqual(['X=1', 'config/.env'])
  })
})
