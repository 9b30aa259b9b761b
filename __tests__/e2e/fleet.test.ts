/**
 * Several servers in one step: three sshd instances, each with a filesystem
 * of its own mounted at the same deploy path, and a jump host.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer, freePort, startSshd } from './sshd-harness'
import { makeWorkspace, runAction } from './run-action'
import { parseObjects } from '../support/json'

const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-fleet-'))
fs.chmodSync(shared, 0o755)
const ROOT = path.join(shared, 'srv')
let fleet: TestServer[] = []

beforeAll(async () => {
  fleet = await Promise.all([1, 2, 3].map(() => startSshd({ privateRootAt: ROOT })))
})
afterAll(async () => {
  await Promise.all(fleet.map((s) => s.stop()))
  fs.rmSync(shared, { recursive: true, force: true })
})

function fleetInputs(servers: TestServer[], site: string): Record<string, string> {
  return {
    host: servers.map((s) => `${s.host}:${s.port}`).join('\n'),
    username: servers[0].username,
    'ssh-key': servers[0].userKey,
    'known-hosts': servers.map((s) => s.knownHosts).join(''),
    path: path.join(ROOT, site)
  }
}

// The test process sees each server's deploy path through that server's own folder.
const onHost = (server: TestServer, site: string, ...rest: string[]) => path.join(server.backing, site, ...rest)
const currentOn = (server: TestServer, site: string) => fs.readlinkSync(onHost(server, site, 'current'))

describe('one step, several hosts', () => {
  it('the servers really have filesystems of their own', async () => {
    const run = await runAction({ ...fleetInputs([fleet[0]], 'own-fs'), 'release-id': 'solo', source: makeWorkspace({ a: '1' }) })
    expect(run.code, run.stdout).toBe(0)
    expect(fs.existsSync(onHost(fleet[0], 'own-fs', 'current'))).toBe(true)
    expect(fs.existsSync(onHost(fleet[1], 'own-fs'))).toBe(false)
  })

  it('deploys the same release id to every host and switches them all', async () => {
    const inputs = fleetInputs(fleet, 'all')
    const first = await runAction({ ...inputs, source: makeWorkspace({ v: '1' }) }, { env: { GITHUB_SHA: 'aaaaaaa1234', GITHUB_RUN_ID: '555', GITHUB_RUN_ATTEMPT: '1' } })
    expect(first.code, first.stdout).toBe(0)
    expect(first.outputs['release-id']).toBe('run555.1-aaaaaaa')
    for (const server of fleet) expect(currentOn(server, 'all')).toBe('releases/run555.1-aaaaaaa')
    const results = parseObjects(first.outputs.results, 'results')
    expect(results).toHaveLength(3)
    for (const r of results) expect(r).toMatchObject({ status: 'deployed', releaseId: 'run555.1-aaaaaaa', previousReleaseId: '' })
    expect(results.every((r) => typeof r.bytesUploaded === 'number' && r.bytesUploaded > 0)).toBe(true)
    expect(first.summary).toContain('#### Hosts')
    expect(first.stdout).toMatch(/host\s+status\s+current\s+previous/)
    // A fleet-wide rollback by id.
    const second = await runAction({ ...inputs, 'release-id': 'two', source: makeWorkspace({ v: '2' }) })
    expect(second.code, second.stdout).toBe(0)
    const back = await runAction({ ...inputs, mode: 'rollback', 'release-id': 'run555.1-aaaaaaa' })
    expect(back.code, back.stdout).toBe(0)
    for (const server of fleet) expect(currentOn(server, 'all')).toBe('releases/run555.1-aaaaaaa')
  })

  it('if one host fails before the switch, no host switches and every staging tree is gone', async () => {
    const inputs = fleetInputs(fleet, 'one-fails')
    const ok = await runAction({ ...inputs, 'release-id': 'good', source: makeWorkspace({ v: 'good' }) })
    expect(ok.code, ok.stdout).toBe(0)
    fs.writeFileSync(onHost(fleet[1], 'one-fails', 'shared', 'refuse'), 'x')
    const run = await runAction({
      ...inputs,
      'release-id': 'next',
      source: makeWorkspace({ v: 'next' }),
      'before-activate': 'if [ -e "$DEPLOY_PATH/shared/refuse" ]; then echo "refusing here"; exit 7; fi'
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain(`127.0.0.1:${fleet[1].port}: failed`)
    expect(run.stdout).toContain('nothing was switched')
    for (const server of fleet) {
      expect(currentOn(server, 'one-fails')).toBe('releases/good')
      expect(fs.readdirSync(onHost(server, 'one-fails', 'releases'))).toEqual(['good'])
      expect(fs.readdirSync(onHost(server, 'one-fails', '.atomic-deploy/staging'))).toEqual([])
      expect(fs.existsSync(onHost(server, 'one-fails', '.atomic-deploy/lock'))).toBe(false)
    }
    const results = parseObjects(run.outputs.results, 'results')
    expect(results.map((r) => r.status)).toEqual(['not-switched', 'failed', 'not-switched'])
  })

  it('a failing after-activate on one host switches every host back', async () => {
    const inputs = fleetInputs(fleet, 'after-fails')
    expect((await runAction({ ...inputs, 'release-id': 'v1', source: makeWorkspace({ v: '1' }) })).code).toBe(0)
    fs.writeFileSync(onHost(fleet[2], 'after-fails', 'shared', 'refuse'), 'x')
    const run = await runAction({
      ...inputs,
      'release-id': 'v2',
      source: makeWorkspace({ v: '2' }),
      'after-activate': '[ ! -e "$DEPLOY_PATH/shared/refuse" ]'
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('switched back to v1 and marked v2 bad')
    for (const server of fleet) {
      expect(currentOn(server, 'after-fails')).toBe('releases/v1')
      expect(fs.existsSync(onHost(server, 'after-fails', '.atomic-deploy/lock'))).toBe(false)
    }
    expect(parseObjects(run.outputs.results, 'results').map((r) => r.status)).toEqual(['reverted', 'reverted', 'reverted'])
  })

  it('before-activate-on: first runs the hook on exactly one host', async () => {
    const run = await runAction({
      ...fleetInputs(fleet, 'first-only'),
      'before-activate-on': 'first',
      source: makeWorkspace({ v: '1' }),
      'before-activate': 'touch "$DEPLOY_PATH/shared/migrated"'
    })
    expect(run.code, run.stdout).toBe(0)
    const ran = fleet.filter((server) => fs.existsSync(onHost(server, 'first-only', 'shared', 'migrated')))
    expect(ran).toEqual([fleet[0]])
  })

  it('a host that refuses connections fails the step fast, naming it, and no host is touched', async () => {
    const closed = await freePort()
    const inputs = fleetInputs(fleet, 'refused')
    const started = Date.now()
    const run = await runAction({
      ...inputs,
      host: `${inputs.host}\n127.0.0.1:${closed}`,
      retries: '0',
      'known-hosts': `${inputs['known-hosts']}[127.0.0.1]:${closed} ${fleet[0].knownHosts.split(' ').slice(1).join(' ')}`,
      source: makeWorkspace({ v: '1' })
    })
    expect(run.code).toBe(1)
    expect(Date.now() - started).toBeLessThan(30_000) // a hang guard; the refusal itself takes about a second
    expect(run.stdout).toContain(`127.0.0.1:${closed}: connection refused`)
    expect(run.stdout).toContain('nothing was changed on any host')
    for (const server of fleet) expect(fs.existsSync(onHost(server, 'refused'))).toBe(false)
  })
})

describe('jump host', () => {
  let target: TestServer
  let bastion: TestServer
  let closedBastion: TestServer
  beforeAll(async () => {
    ;[target, bastion, closedBastion] = await Promise.all([startSshd(), startSshd(), startSshd({ extraConfig: 'AllowTcpForwarding no' })])
  })
  afterAll(async () => {
    await Promise.all([target?.stop(), bastion?.stop(), closedBastion?.stop()])
  })

  it('tunnels the connection to the target through the jump host, checking both host keys', async () => {
    const root = path.join(target.root, 'via-bastion')
    const inputs = {
      host: `127.0.0.1:${target.port}`,
      username: target.username,
      'ssh-key': target.userKey,
      'known-hosts': target.knownHosts,
      path: root,
      source: makeWorkspace({ v: 'tunnelled' }),
      'proxy-host': `127.0.0.1:${bastion.port}`,
      'proxy-ssh-key': bastion.userKey,
      'proxy-known-hosts': bastion.knownHosts
    }
    const run = await runAction(inputs)
    expect(run.code, run.stdout).toBe(0)
    expect(fs.readFileSync(path.join(root, 'current/v'), 'utf8')).toBe('tunnelled')
    // The same deploy through a jump host that forbids forwarding fails there: the traffic really goes through it.
    const blocked = await runAction({ ...inputs, 'proxy-host': `127.0.0.1:${closedBastion.port}`, 'proxy-known-hosts': closedBastion.knownHosts, retries: '0' })
    expect(blocked.code).toBe(1)
    expect(blocked.stdout).toContain('through the jump host')
    const wrongPin = await runAction({ ...inputs, 'proxy-known-hosts': target.knownHosts.replace(String(target.port), String(bastion.port)) })
    expect(wrongPin.code).toBe(1)
    expect(wrongPin.stdout).toContain(`Host key of 127.0.0.1:${bastion.port} does not match`)
  })

  it('opens a fresh tunnel for each host key type it tries on the target', async () => {
    const multi = await startSshd({ hostKeyTypes: ['ed25519', 'ecdsa', 'rsa'] })
    try {
      const root = path.join(multi.root, 'via-bastion-rsa')
      const run = await runAction({
        host: `127.0.0.1:${multi.port}`,
        username: multi.username,
        'ssh-key': multi.userKey,
        // Bare, so ed25519 and ECDSA are shown (and refused) first, each through its own tunnel.
        'host-fingerprint': multi.hostKeys[2].fingerprint,
        path: root,
        source: makeWorkspace({ v: 'rsa via bastion' }),
        'proxy-host': `127.0.0.1:${bastion.port}`,
        'proxy-ssh-key': bastion.userKey,
        'proxy-known-hosts': bastion.knownHosts
      })
      expect(run.code, run.stdout).toBe(0)
      expect(fs.readFileSync(path.join(root, 'current/v'), 'utf8')).toBe('rsa via bastion')
    } finally {
      await multi.stop()
    }
  })
})
