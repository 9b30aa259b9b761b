import { createHmac, randomBytes } from 'crypto'
import { execFileSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { describe, expect, it } from 'vitest'
import { HostKeyCheck } from '../../src/ssh/host-key'
import { fingerprintOf, keyTypeOf, parseFingerprint } from '../../src/config/known-hosts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-hostkey-'))
function hostKey(type: string): { line: string; blob: Buffer; fingerprint: string } {
  const file = path.join(dir, `${type}-${randomBytes(4).toString('hex')}`)
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', file])
  const [keyType, base64] = fs.readFileSync(`${file}.pub`, 'utf8').split(' ')
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`])
    .toString()
    .split(' ')[1]
  return { line: `${keyType} ${base64}`, blob: Buffer.from(base64, 'base64'), fingerprint }
}
const ed = hostKey('ed25519')
const other = hostKey('ed25519')
const ecdsa = hostKey('ecdsa')
const rsa = hostKey('rsa')
const target = { host: 'web1.example.com', port: 22 }

describe('host key checking', () => {
  it('computes the same SHA256 fingerprint as ssh-keygen', () => {
    expect(fingerprintOf(ed.blob)).toBe(ed.fingerprint)
  })

  it('accepts the pinned fingerprint and refuses another, showing both', () => {
    const check = new HostKeyCheck({ mode: 'fingerprint', fingerprint: ed.fingerprint }, target)
    expect(check.verify(ed.blob)).toBe(true)
    expect(check.verify(other.blob)).toBe(false)
    expect(check.refusal()).toContain(`offered ssh-ed25519 key ${other.fingerprint}, expected host-fingerprint ${ed.fingerprint}`)
    expect(check.refusal()).toContain('web1.example.com:22')
  })

  it('matches plain, port-qualified, wildcard and hashed known_hosts lines', () => {
    const salt = randomBytes(20)
    const hash = createHmac('sha1', salt).update('[web1.example.com]:2222').digest('base64')
    const cases: Array<[string, { host: string; port: number }]> = [
      [`web1.example.com,10.0.0.1 ${ed.line}`, target],
      [`[web1.example.com]:2222 ${ed.line}`, { host: 'web1.example.com', port: 2222 }],
      [`*.example.com ${ed.line}`, target],
      [`|1|${salt.toString('base64')}|${hash} ${ed.line}`, { host: 'web1.example.com', port: 2222 }]
    ]
    for (const [line, address] of cases) {
      const check = new HostKeyCheck({ mode: 'known-hosts', knownHosts: `# comment\n${line}\n` }, address)
      expect(check.verify(ed.blob), line).toBe(true)
      expect(check.verify(other.blob), line).toBe(false)
    }
  })

  it('asks the server for the key types the known_hosts lines hold', () => {
    const check = new HostKeyCheck({ mode: 'known-hosts', knownHosts: `web1.example.com ${ecdsa.line}\nweb1.example.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ\n` }, target)
    expect(check.nextAlgorithms()).toEqual(['ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'])
  })

  it('refuses known_hosts with no line for the host, naming the host to scan', () => {
    expect(() => new HostKeyCheck({ mode: 'known-hosts', knownHosts: `other.example.com ${ed.line}` }, target)).toThrow(
      "no line is for web1.example.com. Run 'ssh-keyscan web1.example.com'"
    )
  })

  it('refuses a revoked key', () => {
    const check = new HostKeyCheck({ mode: 'known-hosts', knownHosts: `@revoked * ${other.line}\nweb1.example.com ${ed.line}` }, target)
    expect(check.verify(other.blob)).toBe(false)
    expect(check.verify(ed.blob)).toBe(true)
  })

  it('without a pin refuses and shows the fingerprint to pin', () => {
    const check = new HostKeyCheck({ mode: 'unpinned' }, target)
    expect(check.verify(ed.blob)).toBe(false)
    expect(check.refusal()).toContain(`host-fingerprint: ssh-ed25519 ${ed.fingerprint}`)
    expect(check.refusal()).toContain('ssh-keyscan web1.example.com')
  })

  it('parses fingerprints with or without padding and refuses other forms', () => {
    expect(parseFingerprint(`${ed.fingerprint}=`)).toEqual({ fingerprint: ed.fingerprint })
    expect(() => parseFingerprint('16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48')).toThrow("'host-fingerprint'")
  })

  it('reads the key type before a fingerprint, as ssh and ssh-keygen name it', () => {
    for (const keyType of ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ED25519', 'ECDSA', 'RSA', 'ecdsa']) {
      expect(parseFingerprint(`  ${keyType}   ${ed.fingerprint}\n`)).toEqual({ fingerprint: ed.fingerprint, keyType })
    }
  })

  it("reads a whole 'ssh-keygen -l' line, taking the type from its end", () => {
    const line = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', '-'], { input: `${rsa.line}\n` }).toString()
    expect(parseFingerprint(line)).toEqual({ fingerprint: rsa.fingerprint, keyType: 'RSA' })
    expect(parseFingerprint(`256 ${ed.fingerprint} deploy@build host (ED25519)`)).toEqual({ fingerprint: ed.fingerprint, keyType: 'ED25519' })
  })

  it.each([
    ['ssh-dsa', '"ssh-dsa" is not a host key type. Name the type before the fingerprint as one of ssh-ed25519, ecdsa-sha2-nistp256'],
    ['sk-ssh-ed25519@openssh.com', '"sk-ssh-ed25519@openssh.com" is not a host key type'],
    ['256', '"256" is not a host key type']
  ])('refuses the key type %s, naming the types it knows', (keyType, message) => {
    expect(() => parseFingerprint(`${keyType} ${ed.fingerprint}`, 'proxy-host-fingerprint')).toThrow(`Invalid input 'proxy-host-fingerprint': ${message}`)
  })

  it.each([[`ssh-ed25519 SHA256:${'a'.repeat(42)}`], [`ssh-ed25519 ${ed.fingerprint} extra`], [`ssh-ed25519 ECDSA ${ed.fingerprint}`], ['ssh-ed25519']])(
    'refuses %j as not a fingerprint, showing the forms it takes',
    (text) => {
      expect(() => parseFingerprint(text)).toThrow("is not a SHA256 fingerprint. Expected SHA256: and 43 base64 characters, after the key type or not: 'ssh-ed25519 SHA256:...'")
    }
  )
})

/** Plays a server with these keys against the check, as connection.ts does: the algorithms each attempt asks for, and the outcome. */
function connectTo(check: HostKeyCheck, keys: Array<{ blob: Buffer }>): { asked: string[][]; accepted: boolean } {
  const asked: string[][] = []
  while (check.hasNextAttempt()) {
    const algorithms = check.nextAlgorithms() ?? []
    asked.push(algorithms)
    // The server shows its key of the first algorithm the client asks for that it has.
    const key = algorithms.map((a) => keys.find((k) => keyTypeOf(k.blob) === (a.startsWith('rsa-') ? 'ssh-rsa' : a))).find(Boolean)
    if (!key) check.noCommonKeyType()
    else if (check.verify(key.blob)) return { asked, accepted: true }
  }
  return { asked, accepted: false }
}

describe('steering the connection to the pinned key type', () => {
  const server = [ed, ecdsa, rsa]
  const ALL = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']

  it('asks only for the named type, and connects at once', () => {
    expect(connectTo(new HostKeyCheck({ mode: 'fingerprint', fingerprint: rsa.fingerprint, keyType: 'RSA' }, target), server)).toEqual({
      asked: [['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']],
      accepted: true
    })
    expect(connectTo(new HostKeyCheck({ mode: 'fingerprint', fingerprint: ecdsa.fingerprint, keyType: 'ECDSA' }, target), server).asked).toEqual([
      ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521']
    ])
  })

  it('with a bare fingerprint asks for every type, then for one type at a time until the pinned key shows', () => {
    expect(connectTo(new HostKeyCheck({ mode: 'fingerprint', fingerprint: ed.fingerprint }, target), server)).toEqual({ asked: [ALL], accepted: true })
    expect(connectTo(new HostKeyCheck({ mode: 'fingerprint', fingerprint: rsa.fingerprint }, target), server)).toEqual({
      asked: [ALL, ['ecdsa-sha2-nistp256'], ['ecdsa-sha2-nistp384'], ['ecdsa-sha2-nistp521'], ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']],
      accepted: true
    })
  })

  it('refuses a wrong fingerprint once every type was seen, listing what each type offered', () => {
    const check = new HostKeyCheck({ mode: 'fingerprint', fingerprint: other.fingerprint }, target)
    expect(connectTo(check, server).accepted).toBe(false)
    expect(check.refusal()).toContain(
      `the server offered ssh-ed25519 key ${ed.fingerprint}, ecdsa-sha2-nistp256 key ${ecdsa.fingerprint}, ssh-rsa key ${rsa.fingerprint}, expected host-fingerprint ${other.fingerprint}.`
    )
  })

  it('refuses a key of the named type that does not match, without trying other types', () => {
    const check = new HostKeyCheck({ mode: 'fingerprint', fingerprint: ed.fingerprint, keyType: 'ecdsa-sha2-nistp256' }, target)
    expect(connectTo(check, server)).toEqual({ asked: [['ecdsa-sha2-nistp256']], accepted: false })
    expect(check.refusal()).toContain(`offered ecdsa-sha2-nistp256 key ${ecdsa.fingerprint}, expected host-fingerprint ecdsa-sha2-nistp256 ${ed.fingerprint}.`)
  })

  it('refuses a named type the server does not have, saying so', () => {
    const check = new HostKeyCheck({ mode: 'fingerprint', fingerprint: rsa.fingerprint, keyType: 'ssh-rsa' }, target)
    expect(connectTo(check, [ed, ecdsa]).accepted).toBe(false)
    expect(check.refusal()).toContain(`the server offered no ssh-rsa key, expected host-fingerprint ssh-rsa ${rsa.fingerprint}.`)
  })

  it('tries each key type of the known_hosts lines until one matches', () => {
    const knownHosts = `web1.example.com ${other.line}\nweb1.example.com ${rsa.line}\n`
    const check = new HostKeyCheck({ mode: 'known-hosts', knownHosts }, target)
    expect(connectTo(check, server)).toEqual({
      asked: [
        ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
        ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
      ],
      accepted: true
    })
  })

  it('stops at a revoked key, as ssh does, though another pinned type might match', () => {
    const knownHosts = `@revoked * ${ed.line}\nweb1.example.com ${other.line}\nweb1.example.com ${rsa.line}\n`
    const check = new HostKeyCheck({ mode: 'known-hosts', knownHosts }, target)
    expect(connectTo(check, server)).toEqual({ asked: [['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']], accepted: false })
    expect(check.refusal()).toContain(`known-hosts keys (revoked ssh-ed25519 ${ed.fingerprint}, ssh-ed25519 ${other.fingerprint}, ssh-rsa ${rsa.fingerprint})`)
  })

  it('leaves the algorithms to ssh2 when nothing is pinned', () => {
    const check = new HostKeyCheck({ mode: 'unpinned' }, target)
    expect(check.nextAlgorithms()).toBeUndefined()
    expect(check.verify(ecdsa.blob)).toBe(false)
    expect(check.hasNextAttempt()).toBe(false)
  })
})
