import { createHmac, randomBytes } from 'crypto'
import { execFileSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { describe, expect, it } from 'vitest'
import { HostKeyCheck } from '../../src/ssh/host-key'
import { fingerprintOf, parseFingerprint } from '../../src/config/known-hosts'

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
    expect(check.serverHostKeyAlgorithms()).toEqual(['ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'])
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
    expect(check.refusal()).toContain(`host-fingerprint: ${ed.fingerprint}`)
    expect(check.refusal()).toContain('ssh-keyscan web1.example.com')
  })

  it('parses fingerprints with or without padding and refuses other forms', () => {
    expect(parseFingerprint(`${ed.fingerprint}=`)).toBe(ed.fingerprint)
    expect(() => parseFingerprint('16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48')).toThrow("'host-fingerprint'")
  })
})
