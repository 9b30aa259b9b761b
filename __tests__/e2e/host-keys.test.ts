/**
 * A server with ed25519, ECDSA and RSA host keys, as most are: ssh2 asks for
 * ed25519 first, so a pin of either other type only holds if the connection
 * is steered to it. Each key's fingerprint, bare and named by its type, must
 * deploy; a wrong one must be refused naming every key the server has.
 */
import { execFileSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HostKeyInfo, TestServer, startSshd } from './sshd-harness'
import { connectionInputs, makeWorkspace, runAction } from './run-action'

let server: TestServer

beforeAll(async () => {
  server = await startSshd({ hostKeyTypes: ['ed25519', 'ecdsa', 'rsa'] })
})

afterAll(async () => {
  await server?.stop()
})

/** Inputs that reach the server pinned by this fingerprint text alone. */
function pinnedBy(fingerprint: string, root: string): Record<string, string> {
  return { ...connectionInputs(server), 'known-hosts': '', 'host-fingerprint': fingerprint, path: root, source: makeWorkspace({ 'index.html': root }) }
}

/** A public key (type and base64) the server does not have. */
function otherPublicKey(type: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-otherkey-'))
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', path.join(dir, 'key')])
  const key = fs.readFileSync(path.join(dir, 'key.pub'), 'utf8').split(' ').slice(0, 2).join(' ')
  fs.rmSync(dir, { recursive: true, force: true })
  return key
}

/** The pin forms for one key: bare, with the type as a known_hosts line has it, with ssh-keygen's word. */
function pins(key: HostKeyInfo): Array<[string, string]> {
  return [
    ['bare', key.fingerprint],
    ['typed', `${key.keyType} ${key.fingerprint}`],
    ['word', `${key.word} ${key.fingerprint}`]
  ]
}

describe.concurrent('a server with ed25519, ECDSA and RSA host keys', () => {
  it('has the three keys, with ed25519 the one ssh2 prefers', () => {
    expect(server.hostKeys.map((k) => k.keyType)).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa'])
    expect(server.hostKeys.map((k) => k.word)).toEqual(['ED25519', 'ECDSA', 'RSA'])
  })

  for (const type of ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa']) {
    it(`deploys pinned by the ${type} fingerprint, bare, typed and with ssh-keygen's word`, async ({ expect: e }) => {
      const key = server.hostKeys.find((k) => k.keyType === type)!
      for (const [form, pin] of pins(key)) {
        const root = path.join(server.root, `${type}-${form}`)
        const run = await runAction(pinnedBy(pin, root))
        e(run.code, `${pin}: ${run.stdout}${run.stderr}`).toBe(0)
        e(fs.readlinkSync(path.join(root, 'current'))).toMatch(/^releases\//)
        e(fs.readFileSync(path.join(root, 'current', 'index.html'), 'utf8')).toBe(root)
      }
    })
  }

  it("deploys pinned by a whole 'ssh-keygen -l' line for the RSA key", async ({ expect: e }) => {
    const rsa = server.hostKeys.find((k) => k.keyType === 'ssh-rsa')!
    const root = path.join(server.root, 'keygen-line')
    const run = await runAction(pinnedBy(`3072 ${rsa.fingerprint} atomic-deploy-test (RSA)`, root))
    e(run.code, run.stdout + run.stderr).toBe(0)
  })

  it('refuses a wrong bare fingerprint, naming the key each type offered; nothing is written', async ({ expect: e }) => {
    const root = path.join(server.root, 'wrong')
    const wrong = `SHA256:${'A'.repeat(43)}`
    const run = await runAction(pinnedBy(wrong, root))
    e(run.code).toBe(1)
    const offered = server.hostKeys.map((k) => `${k.keyType} key ${k.fingerprint}`).join(', ')
    e(run.stdout).toContain(`does not match: the server offered ${offered}, expected host-fingerprint ${wrong}.`)
    e(fs.existsSync(root)).toBe(false)
  })

  it('refuses a typed pin whose key type holds another key, trying no other type', async ({ expect: e }) => {
    const [ed, ecdsa] = server.hostKeys
    const root = path.join(server.root, 'wrong-type')
    const run = await runAction(pinnedBy(`ECDSA ${ed.fingerprint}`, root))
    e(run.code).toBe(1)
    e(run.stdout).toContain(`the server offered ecdsa-sha2-nistp256 key ${ecdsa.fingerprint}, expected host-fingerprint ECDSA ${ed.fingerprint}.`)
  })

  it('refuses a typed pin of a type the server lacks, saying it has none', async ({ expect: e }) => {
    const root = path.join(server.root, 'missing-type')
    const pin = `ecdsa-sha2-nistp384 ${server.hostKeys[1].fingerprint}`
    const run = await runAction(pinnedBy(pin, root))
    e(run.code).toBe(1)
    e(run.stdout).toContain(`the server offered no ecdsa-sha2-nistp384 key, expected host-fingerprint ${pin}.`)
  })

  it('deploys with known_hosts lines whose ed25519 line is stale but whose RSA line holds', async ({ expect: e }) => {
    const rsaLine = server.knownHosts.split('\n').find((line) => line.includes(' ssh-rsa '))!
    const otherEd25519 = `[${server.host}]:${server.port} ${otherPublicKey('ed25519')}`
    const root = path.join(server.root, 'known-hosts-rsa')
    const run = await runAction({ ...pinnedBy('', root), 'host-fingerprint': '', 'known-hosts': `${otherEd25519}\n${rsaLine}\n` })
    e(run.code, run.stdout + run.stderr).toBe(0)
    e(fs.readFileSync(path.join(root, 'current', 'index.html'), 'utf8')).toBe(root)
  })
})
