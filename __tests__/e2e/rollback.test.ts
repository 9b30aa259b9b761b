import * as fs from 'fs'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, startSshd } from './sshd-harness'
import { ActionRun, connectionInputs, makeWorkspace, runAction } from './run-action'
import { parseObjects } from '../support/json'

let server: TestServer
beforeAll(async () => {
  server = await startSshd()
})
afterAll(async () => {
  await server?.stop()
})

const currentOf = (root: string): string => fs.readlinkSync(path.join(root, 'current'))
const lockOf = (root: string): string => path.join(root, '.atomic-deploy/lock')
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// The hook says so, then stops its deploy script's process group (the hook runs in a session of its own).
const STOP_DEPLOY_SCRIPT = `echo deploy-script-stopping; sleep 1; kill -s STOP -- "-$(awk '{print $5}' /proc/$PPID/stat)"`
const procState = (pid: number): string => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  } catch {
    return ''
  }
}

/**
 * A deploy that dies whole with no runner left to clean up (as with the OOM
 * killer on both ends): the runner is killed as the hook speaks, then the
 * stopped deploy script's group, so no trap runs and the lock stays. (A
 * runner that lives reconnects and frees its lock, see fault-matrix.test.ts.)
 */
async function dieWhole(root: string, inputs: Record<string, string>): Promise<ActionRun> {
  const killed = await runAction({ ...inputs, 'before-activate': STOP_DEPLOY_SCRIPT }, { killOn: { text: 'deploy-script-stopping', signal: 'SIGKILL' } })
  const owner = JSON.parse(fs.readFileSync(path.join(lockOf(root), 'owner'), 'utf8')) as { pid: number; pgid: number }
  for (let i = 0; i < 200 && procState(owner.pid) !== 'T'; i++) await sleep(50)
  expect(procState(owner.pid), 'the deploy script was stopped').toBe('T')
  process.kill(-owner.pgid, 'SIGKILL')
  for (let i = 0; i < 200 && procState(owner.pid) !== ''; i++) await sleep(50)
  return killed
}

async function deployAll(root: string, ids: string[]): Promise<void> {
  for (const id of ids) {
    const run = await runAction({ ...connectionInputs(server), path: root, 'release-id': id, source: makeWorkspace({ 'version.txt': id }) })
    expect(run.code, run.stdout).toBe(0)
  }
}

describe('rollback, list and unlock through dist/index.js', () => {
  it('rolls back to the previous good release, then further back, never bouncing to a bad one', async () => {
    const root = path.join(server.root, 'abc')
    await deployAll(root, ['A', 'B', 'C'])
    const inputs = { ...connectionInputs(server), path: root, mode: 'rollback' }

    const first = await runAction({ ...inputs, 'before-activate': 'echo "mode=$DEPLOY_MODE target=$RELEASE_ID from=$PREVIOUS_RELEASE_ID"' })
    expect(first.code, first.stdout).toBe(0)
    expect(first.stdout).toContain('mode=rollback target=B from=C')
    expect(first.outputs['release-id']).toBe('B')
    expect(first.outputs['previous-release-id']).toBe('C')
    expect(currentOf(root)).toBe('releases/B')
    const releases = parseObjects(first.outputs.releases, 'releases')
    expect(releases.map((r) => r.id)).toEqual(['C', 'B', 'A'])
    expect(releases.find((r) => r.id === 'C')?.bad).toBe(true)
    expect(releases.find((r) => r.id === 'B')?.current).toBe(true)

    const second = await runAction(inputs)
    expect(second.code, second.stdout).toBe(0)
    expect(second.outputs['release-id']).toBe('A')
    expect(currentOf(root)).toBe('releases/A')

    const byId = await runAction({ ...inputs, 'release-id': 'C' })
    expect(byId.code, byId.stdout).toBe(0)
    expect(currentOf(root)).toBe('releases/C')
    expect(parseObjects(byId.outputs.releases, 'releases').find((r) => r.id === 'C')).toMatchObject({ current: true, bad: false })
    expect(fs.readFileSync(path.join(root, 'current/version.txt'), 'utf8')).toBe('C')
    expect(byId.summary).toContain('Rolled back to C')
  })

  it('goes to the release that was current most recently: after a rollback to A by id, the next rollback goes to B', async () => {
    const root = path.join(server.root, 'ranked')
    await deployAll(root, ['A', 'B', 'C'])
    const inputs = { ...connectionInputs(server), path: root, mode: 'rollback' }
    const toA = await runAction({ ...inputs, 'release-id': 'A' })
    expect(toA.code, toA.stdout).toBe(0)
    expect(currentOf(root)).toBe('releases/A')
    // C was rolled back from (bad); of the good releases besides A, B was current last.
    const next = await runAction(inputs)
    expect(next.code, next.stdout).toBe(0)
    expect(next.outputs['release-id']).toBe('B')
    expect(next.outputs['previous-release-id']).toBe('A')
    expect(currentOf(root)).toBe('releases/B')
  })

  it('refuses a release id that is not on the server, listing the ones that are', async () => {
    const root = path.join(server.root, 'unknown')
    await deployAll(root, ['u1', 'u2'])
    const run = await runAction({ ...connectionInputs(server), path: root, mode: 'rollback', 'release-id': 'gone' })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('release gone is not on the server; releases there: u1 u2')
    expect(run.stdout).toContain('redeploy its commit')
    expect(currentOf(root)).toBe('releases/u2')
  })

  it('fails, not passes, when there is nothing to roll back to', async () => {
    const root = path.join(server.root, 'single')
    await deployAll(root, ['only'])
    const run = await runAction({ ...connectionInputs(server), path: root, mode: 'rollback' })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('no good release before only to roll back to')
    expect(currentOf(root)).toBe('releases/only')
    const empty = await runAction({ ...connectionInputs(server), path: path.join(server.root, 'never-deployed'), mode: 'rollback' })
    expect(empty.code).toBe(1)
    expect(empty.stdout).toContain('holds no atomic-deploy releases')
  })

  it('lists releases as JSON, newest first, with the current one marked, and as a table', async () => {
    const root = path.join(server.root, 'list')
    await deployAll(root, ['l1', 'l2'])
    const run = await runAction({ ...connectionInputs(server), path: root, mode: 'list' }, { env: { GITHUB_SHA: 'feedfacecafebeef' } })
    expect(run.code, run.stdout).toBe(0)
    const releases = parseObjects(run.outputs.releases, 'releases')
    expect(releases).toHaveLength(2)
    expect(releases[0]).toMatchObject({ id: 'l2', current: true, bad: false })
    expect(releases[0].created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    expect(releases[1]).toMatchObject({ id: 'l1', current: false })
    expect(run.outputs['release-id']).toBe('l2')
    expect(run.outputs['previous-release-id']).toBe('l1')
    expect(run.stdout).toMatch(/\*\s+l2/)
    expect(run.summary).toContain('| **l2** (current) |')
  })

  it('of two deploys started at once, exactly one proceeds and the other fails naming the holder', async () => {
    const root = path.join(server.root, 'race')
    await deployAll(root, ['base'])
    const inputs = { ...connectionInputs(server), path: root, 'before-activate': 'sleep 2' }
    const [x, y] = await Promise.all([
      runAction({ ...inputs, 'release-id': 'x', source: makeWorkspace({ v: 'x' }) }),
      runAction({ ...inputs, 'release-id': 'y', source: makeWorkspace({ v: 'y' }) })
    ])
    const codes = [x.code, y.code].sort()
    expect(codes).toEqual([0, 1])
    const [winner, loser] = x.code === 0 ? ['x', y] : ['y', x]
    expect(loser.stdout).toContain('is held by')
    expect(loser.stdout).toContain(`"release":"${winner}"`)
    expect(currentOf(root)).toBe(`releases/${winner}`)
    expect(fs.readdirSync(path.join(root, 'releases')).sort()).toEqual(['base', winner])
    expect(fs.existsSync(lockOf(root))).toBe(false)
  })

  it('with lock-timeout the second deploy waits for the first and then proceeds', async () => {
    const root = path.join(server.root, 'queue')
    await deployAll(root, ['base'])
    const inputs = { ...connectionInputs(server), path: root, 'before-activate': 'sleep 1', 'lock-timeout': '30' }
    const runs = await Promise.all(['q1', 'q2'].map((id) => runAction({ ...inputs, 'release-id': id, source: makeWorkspace({ v: id }) })))
    expect(runs.map((r) => r.code)).toEqual([0, 0])
    expect(runs.some((r) => r.stdout.includes('waiting up to 30 s for the deploy lock'))).toBe(true)
    expect(fs.readdirSync(path.join(root, 'releases')).sort()).toEqual(['base', 'q1', 'q2'])
  })

  it('reports a lock left by a deploy killed on the server, and unlock clears it, naming the holder', async () => {
    const root = path.join(server.root, 'killed')
    await deployAll(root, ['k1'])
    // The whole deploy dies at once, runner and remote script: no trap runs, the lock stays.
    const killed = await dieWhole(root, { ...connectionInputs(server), path: root, 'release-id': 'k2', source: makeWorkspace({ v: 'k2' }) })
    expect(killed.code).toBe(null)
    expect(fs.readFileSync(path.join(lockOf(root), 'owner'), 'utf8')).toContain('"release":"k2"')
    const unlock = await runAction({ ...connectionInputs(server), path: root, mode: 'unlock' })
    expect(unlock.code, unlock.stdout).toBe(0)
    expect(unlock.stdout).toContain('removing the lock held by')
    expect(unlock.stdout).toContain('"release":"k2"')
    expect(unlock.stdout).toContain('its deploy is gone')
    expect(unlock.summary).toContain('Lock freed')
    expect(fs.existsSync(lockOf(root))).toBe(false)
    const next = await runAction({ ...connectionInputs(server), path: root, 'release-id': 'k3', source: makeWorkspace({ v: 'k3' }) })
    expect(next.code, next.stdout).toBe(0)
    expect(currentOf(root)).toBe('releases/k3')
    // The half-made k2 was logged as prepared, so pruning knows it and removes it.
    expect(fs.readdirSync(path.join(root, 'releases')).sort()).toEqual(['k1', 'k3'])
  })

  it('when the remote script dies but the connection lives, the runner removes its release and frees its lock', async () => {
    const root = path.join(server.root, 'script-died')
    await deployAll(root, ['d1'])
    const died = await runAction({
      ...connectionInputs(server),
      path: root,
      'release-id': 'd2',
      source: makeWorkspace({ v: 'd2' }),
      'before-activate': `kill -s KILL -- "-$(awk '{print $5}' /proc/$PPID/stat)"`
    })
    expect(died.code).toBe(1)
    expect(died.stdout).toContain('the remote script was killed (SIGKILL) during step before-activate')
    expect(fs.existsSync(lockOf(root))).toBe(false)
    expect(fs.readdirSync(path.join(root, 'releases'))).toEqual(['d1'])
    expect(currentOf(root)).toBe('releases/d1')
  })

  it('the next deploy reports a stale lock and takes it over', async () => {
    const root = path.join(server.root, 'stale')
    await deployAll(root, ['s1'])
    const killed = await dieWhole(root, { ...connectionInputs(server), path: root, 'release-id': 's2', source: makeWorkspace({ v: 's2' }) })
    expect(killed.code).toBe(null)
    expect(fs.existsSync(lockOf(root))).toBe(true)
    const next = await runAction({ ...connectionInputs(server), path: root, 'release-id': 's3', source: makeWorkspace({ v: 's3' }) })
    expect(next.code, next.stdout).toBe(0)
    expect(next.stdout).toContain('the lock was stale')
    expect(next.stdout).toContain('"release":"s2"')
    expect(currentOf(root)).toBe('releases/s3')
  })

  it('the post step of a cancelled job stops its remote work, removes its release and frees its lock', async () => {
    const root = path.join(server.root, 'cancelled')
    await deployAll(root, ['c1'])
    const inputs = {
      ...connectionInputs(server),
      path: root,
      'release-id': 'c2',
      source: makeWorkspace({ v: 'c2' }),
      // Long enough that only the post step can end it: its pid tells whether it did.
      'before-activate': 'echo $$ >"$DEPLOY_PATH/shared/hook.pid"; sleep 60; touch "$DEPLOY_PATH/shared/hook-finished"'
    }
    const main = await runAction(inputs, { killOn: { text: 'Running before-activate', signal: 'SIGKILL' } })
    expect(main.code).toBe(null)
    expect(main.state['pending-cleanup']).toContain('"releaseId":"c2"')
    expect(fs.existsSync(lockOf(root))).toBe(true)
    const post = await runAction(inputs, { state: main.state })
    expect(post.code, post.stdout).toBe(0)
    expect(post.stdout).toContain('did not finish')
    expect(fs.existsSync(lockOf(root))).toBe(false)
    expect(fs.readdirSync(path.join(root, 'releases'))).toEqual(['c1'])
    expect(currentOf(root)).toBe('releases/c1')
    const hook = Number(fs.readFileSync(path.join(root, 'shared/hook.pid'), 'utf8'))
    const alive = (): boolean => {
      try {
        process.kill(hook, 0)
        return true
      } catch {
        return false
      }
    }
    for (let i = 0; i < 100 && alive(); i++) await sleep(100)
    expect(alive()).toBe(false)
    expect(fs.existsSync(path.join(root, 'shared/hook-finished'))).toBe(false)
  })

  it('the post step does nothing after a deploy that finished', async () => {
    const root = path.join(server.root, 'post-noop')
    const inputs = { ...connectionInputs(server), path: root, 'release-id': 'p1', source: makeWorkspace({ v: 'p1' }) }
    const main = await runAction(inputs)
    expect(main.code).toBe(0)
    const post = await runAction(inputs, { state: main.state })
    expect(post.code).toBe(0)
    expect(post.stdout).not.toContain('did not finish')
  })
})
