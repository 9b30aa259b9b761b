/**
 * A hook may hold a secret (export DB_PASSWORD=...). The server keeps it out
 * of ps; on the machine running the CLI, --<hook>-file keeps it off the
 * command line too, as for keys.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseCommandLine } from '../../src/cli/args'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-hook-file-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

describe('a hook holding a secret, given to the CLI', () => {
  it.each(['before-activate', 'after-activate'])('comes from --%s-file, off the command line', (name) => {
    const file = path.join(tmp, `${name}.sh`)
    fs.writeFileSync(file, 'export DB_PASSWORD=hunter2\nphp artisan migrate\n')
    const request = parseCommandLine(['deploy', `--${name}-file`, file], {})
    expect('read' in request && request.read(name)).toBe('export DB_PASSWORD=hunter2\nphp artisan migrate\n')
  })
})
