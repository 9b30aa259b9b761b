import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { planUpload } from '../../src/core/prepare'
import { listSource } from '../../src/upload/file-list'
import { manifestLines } from '../../src/upload/manifest'
import { ScriptResult } from '../../src/ssh/protocol'
import { testDeployPlan } from '../support/deploy-plan'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-plan-upload-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

async function source() {
  const ws = fs.mkdtempSync(path.join(tmp, 'ws-'))
  fs.writeFileSync(path.join(ws, 'index.html'), 'v1')
  const listing = await listSource(ws, [])
  return { sourceDir: ws, listing, manifest: await manifestLines(ws, listing.entries) }
}

describe('planUpload', () => {
  it('a server check that failed says so, and does not blame a missing sha256sum', async () => {
    const inspected: ScriptResult = { code: 126, results: [['step', 'start']], stdout: '', stderr: 'sh: Argument list too long' }
    const planned = planUpload(testDeployPlan(tmp), await source(), inspected, 'auto', new Set(['gzip']))
    expect(planned.kind).toBe('full')
    expect(planned.summary).toMatch(/^full upload: checking the server's tools and upload cache failed \(exit status 126\)/)
    expect(planned.summary).not.toContain('sha256sum')
  })

  it('a server that answered without sha256sum is still told apart', async () => {
    const inspected: ScriptResult = {
      code: 0,
      results: [
        ['has', 'gzip'],
        ['cache-miss', 'there is no upload cache yet']
      ],
      stdout: '',
      stderr: ''
    }
    const planned = planUpload(testDeployPlan(tmp), await source(), inspected, 'auto', new Set(['gzip']))
    expect(planned.summary).toContain('the server has no sha256sum')
  })
})
