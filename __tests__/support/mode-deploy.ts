/**
 * For the tests of release modes: a workspace with chosen modes, and one real
 * deploy of it (upload code, prepare, switch, finish) through a local runner.
 */
import * as fs from 'fs'
import * as path from 'path'
import { expect } from 'vitest'
import { testDeployPlan } from './deploy-plan'
import { expectedFindLines, listSource } from '../../src/upload/file-list'
import { manifestLines } from '../../src/upload/manifest'
import { uploadAndPrepare } from '../../src/core/prepare'
import { DeployPlan, controlFolderName } from '../../src/remote/plan'
import { ScriptRunner } from '../../src/ssh/connection'
import { finishScript, switchScript } from '../../src/remote/scripts'

/** Permission bits, octal, as ls would show them: '755', '2775'. */
export const mode = (file: string): string => (fs.lstatSync(file).mode & 0o7777).toString(8)

export function writeWithMode(ws: string, rel: string, content: string, fileMode: number): void {
  fs.writeFileSync(path.join(ws, rel), content)
  fs.chmodSync(path.join(ws, rel), fileMode)
}

export function folderWithMode(ws: string, rel: string, folderMode: number): void {
  fs.mkdirSync(path.join(ws, rel))
  fs.chmodSync(path.join(ws, rel), folderMode)
}

/**
 * One deploy of the workspace as it is now, with the release root's mode from
 * the listing, as the fleet plans it. A failed prepare is returned; a failed
 * switch or finish fails the test.
 */
export async function deployWorkspace(
  runner: ScriptRunner,
  ws: string,
  root: string,
  id: string,
  overrides: Partial<DeployPlan> = {}
): Promise<{ kind: string; code: number | null; out: string }> {
  const listing = await listSource(ws, [])
  const plan = testDeployPlan(root, {
    releaseId: id,
    lockToken: `token-${id}`,
    lockOwner: `{"token":"token-${id}"}`,
    expectedEntries: expectedFindLines(listing.entries),
    releaseMode: listing.rootMode,
    incremental: true,
    controlFolder: controlFolderName(),
    ...overrides
  })
  const prepared = await uploadAndPrepare(runner, plan, Promise.resolve({ sourceDir: ws, listing, manifest: await manifestLines(ws, listing.entries) }), () => undefined)
  const out = prepared.result.stdout + prepared.result.stderr
  if (prepared.result.code !== 0) return { kind: prepared.kind, code: prepared.result.code, out }
  let log = out
  for (const script of [switchScript(prepared.plan), finishScript(prepared.plan)]) {
    const step = await runner.run(script)
    expect(step.code, step.stderr).toBe(0)
    log += step.stdout + step.stderr
  }
  return { kind: prepared.kind, code: 0, out: log }
}
