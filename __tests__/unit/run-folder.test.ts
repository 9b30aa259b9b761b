import { ChildProcess, spawn } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, describe, expect, it } from 'vitest'
import { isRunFolder, makeRunFolder, removeDeadRunFolders, startOf, startRun } from '../support/run-folder'

const outer = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-run-folder-'))
const children: ChildProcess[] = []
afterAll(() => {
  children.forEach((child) => child.kill('SIGKILL'))
  fs.rmSync(outer, { recursive: true, force: true })
})

/** A process standing in for another test run: it runs until killed. */
async function otherRun(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log("up")'], { stdio: ['ignore', 'pipe', 'ignore'] })
  children.push(child)
  await new Promise((resolve) => child.stdout.once('data', resolve))
  return child
}

const killed = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    child.once('close', () => resolve())
    child.kill('SIGKILL')
  })

describe('run folders of the test suite', () => {
  it('the next run removes the folder of a run killed with SIGKILL, and keeps a running run and its own', async () => {
    const parent = fs.mkdtempSync(path.join(outer, 'sweep-'))
    const dead = await otherRun()
    const live = await otherRun()
    const deadFolder = makeRunFolder(parent, dead.pid)
    const liveFolder = makeRunFolder(parent, live.pid)
    const own = makeRunFolder(parent)
    fs.writeFileSync(path.join(deadFolder, 'user_key'), 'a private key')
    fs.writeFileSync(path.join(liveFolder, 'user_key'), 'a private key')
    await killed(dead)
    const removed = removeDeadRunFolders(parent)
    expect(removed).toEqual([path.basename(deadFolder)])
    expect(fs.readdirSync(parent).sort()).toEqual([liveFolder, own].map((f) => path.basename(f)).sort())
    expect(fs.readFileSync(path.join(liveFolder, 'user_key'), 'utf8')).toBe('a private key')
  })

  it('a folder whose pid now belongs to another process (a different start time) is a dead run', () => {
    const parent = fs.mkdtempSync(path.join(outer, 'reuse-'))
    const start = startOf(process.pid)
    expect(start).toMatch(/^\d+$/)
    const reused = `atomic-deploy-tests-${process.pid}-${Number(start) - 1}-abcdef`
    fs.mkdirSync(path.join(parent, reused))
    expect(removeDeadRunFolders(parent)).toEqual([reused])
  })

  it('leaves alone every name that is not a run folder', () => {
    const parent = fs.mkdtempSync(path.join(outer, 'others-'))
    const names = ['atomic-deploy-tests-', 'atomic-deploy-tests-x-1-abc', 'atomic-deploy-ws-123-456-abc', 'other-999999-1-abc']
    names.forEach((name) => fs.mkdirSync(path.join(parent, name)))
    expect(names.filter(isRunFolder)).toEqual([])
    expect(removeDeadRunFolders(parent)).toEqual([])
    expect(fs.readdirSync(parent).sort()).toEqual([...names].sort())
  })

  it('finishing a run removes its folder and names what was made beside it, and only that', async () => {
    const parent = fs.mkdtempSync(path.join(outer, 'finish-'))
    fs.mkdirSync(path.join(parent, 'atomic-deploy-ws-before'))
    const concurrent = makeRunFolder(parent, (await otherRun()).pid)
    const run = startRun(parent)
    expect(fs.existsSync(run.folder)).toBe(true)
    fs.mkdirSync(path.join(run.folder, 'atomic-deploy-ws-inside'))
    fs.mkdirSync(path.join(parent, 'atomic-deploy-key-escaped'))
    fs.mkdirSync(path.join(parent, 'unrelated'))
    expect(run.finish()).toEqual(['atomic-deploy-key-escaped'])
    expect(fs.readdirSync(parent).sort()).toEqual(['atomic-deploy-key-escaped', 'atomic-deploy-ws-before', path.basename(concurrent), 'unrelated'].sort())
  })
})
