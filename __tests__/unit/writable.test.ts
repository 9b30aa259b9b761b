/**
 * writable, writable-mode and writable-user: what reaches the server, and
 * what is refused before connecting, each with a message naming the input.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseSettings } from '../../src/config/inputs'
import { planRelease } from '../../src/remote/plan'
import { prepareScript } from '../../src/remote/scripts'

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-writable-'))
afterAll(() => fs.rmSync(workspace, { recursive: true, force: true }))

const base: Record<string, string> = { host: 'example.com', username: 'deploy', password: 'pw', path: '/var/www/app' }

function parse(overrides: Record<string, string>) {
  const inputs = { ...base, ...overrides }
  return parseSettings((name) => inputs[name] ?? '', { GITHUB_WORKSPACE: workspace })
}

describe('writable', () => {
  it('reads folders one a line, acl by default, for writable-user', () => {
    expect(parse({ writable: 'storage/\n# comment\nbootstrap/cache', 'writable-user': 'www-data' }).writable).toEqual({
      paths: ['storage', 'bootstrap/cache'],
      mode: 'acl',
      user: 'www-data'
    })
    expect(parse({}).writable).toEqual({ paths: [], mode: 'acl', user: '' })
  })

  it('chmod opens the folders to every user and takes no writable-user', () => {
    expect(parse({ writable: 'storage/', 'writable-mode': 'chmod', 'writable-user': 'www-data' }).writable).toEqual({ paths: ['storage'], mode: 'chmod', user: '' })
  })

  it.each([
    [{ writable: '/var/www/storage' }, 'writable', 'is absolute'],
    [{ writable: 'storage/../../etc' }, 'writable', "contains '.' or '..'"],
    [{ writable: 'storage\n..' }, 'writable', "contains '.' or '..'"],
    [{ 'writable-mode': 'chown' }, 'writable-mode', '"chown" is not one of acl, chgrp, chmod'],
    [{ 'writable-mode': 'chgrp', 'writable-user': '' }, 'writable-user', 'is required with writable-mode chgrp'],
    [{ 'writable-user': '' }, 'writable-user', 'is required with writable-mode acl'],
    [{ 'writable-user': 'www data' }, 'writable-user', 'is not a user name']
  ])('refuses %o before connecting, naming the input', (inputs, input, detail) => {
    const all = { writable: 'storage/', 'writable-user': 'www-data', ...inputs }
    expect(() => parse(all)).toThrow(`Invalid input '${input}'`)
    expect(() => parse(all)).toThrow(detail)
  })

  it('travels to the prepare script as data: paths one a line, mode and user', () => {
    const settings = parse({ writable: 'storage/\nbootstrap/cache/', 'writable-mode': 'chgrp', 'writable-user': 'www-data' })
    const script = prepareScript(planRelease(settings, 1, 0o755, 'none'))
    expect(script).toContain("WRITABLE_PATHS='storage\nbootstrap/cache'\nWRITABLE_MODE='chgrp'\nWRITABLE_USER='www-data'\n")
  })
})
