import { createHash, createHmac } from 'crypto'
import { HostAddress, HostKeyPolicy } from './settings'
import { InputError, shown } from './input-error'
import { describeHost, knownHostsName } from './host-address'

/** One usable line of a known_hosts text. */
interface KnownHostKey {
  matchesHost(name: string): boolean
  keyType: string
  keyBlob: Buffer
  revoked: boolean
}

/** What the server offered, kept for the error message when it is refused. */
export interface OfferedKey {
  keyType: string
  fingerprint: string
}

export function parseFingerprint(text: string, input = 'host-fingerprint'): string {
  const match = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(text.trim())
  if (!match) {
    throw new InputError(
      input,
      `${shown(text)} is not a SHA256 fingerprint. Expected SHA256: and 43 base64 characters, as 'ssh-keygen -lf <(ssh-keyscan host)' prints.`
    )
  }
  return `SHA256:${match[1]}`
}

export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`
}

/** The algorithm name at the start of an SSH public key blob. */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown'
  const length = keyBlob.readUInt32BE(0)
  return keyBlob.subarray(4, 4 + length).toString('latin1')
}

export function parseKnownHosts(text: string, input = 'known-hosts'): KnownHostKey[] {
  const keys: KnownHostKey[] = []
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim()
    if (!line || line.startsWith('#')) continue
    const fields = line.split(/\s+/)
    const marker = fields[0].startsWith('@') ? fields.shift() : undefined
    if (marker === '@cert-authority' || fields.length < 3) continue
    const [hosts, keyType, base64] = fields
    const keyBlob = Buffer.from(base64, 'base64')
    if (keyTypeOf(keyBlob) !== keyType) {
      throw new InputError(input, `the line for ${shown(hosts)} has a damaged key. Paste the lines exactly as 'ssh-keyscan' prints them.`)
    }
    keys.push({ matchesHost: hostMatcher(hosts), keyType, keyBlob, revoked: marker === '@revoked' })
  }
  if (keys.length === 0) {
    throw new InputError(input, "no key lines found. Expected lines such as 'example.com ssh-ed25519 AAAA...', as 'ssh-keyscan example.com' prints.")
  }
  return keys
}

function hostMatcher(field: string): (name: string) => boolean {
  const hashed = /^\|1\|([^|]+)\|([^|]+)$/.exec(field)
  if (hashed) {
    const salt = Buffer.from(hashed[1], 'base64')
    return (name) => createHmac('sha1', salt).update(name).digest('base64') === hashed[2]
  }
  const patterns = field.split(',')
  return (name) => {
    let matched = false
    for (const pattern of patterns) {
      const negated = pattern.startsWith('!')
      if (wildcardToRegExp(negated ? pattern.slice(1) : pattern).test(name)) {
        if (negated) return false
        matched = true
      }
    }
    return matched
  }
}

function wildcardToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 'i')
}

/** SSH host key algorithms that present a key of this type. */
function algorithmsFor(keyType: string): string[] {
  return keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [keyType]
}

/**
 * Decides whether the key a server offers is the one the user pinned, and
 * remembers what was offered so that a refusal can show it.
 */
export class HostKeyCheck {
  offered?: OfferedKey
  private readonly pinned: KnownHostKey[] = []

  constructor(
    private readonly policy: HostKeyPolicy,
    private readonly address: HostAddress,
    input = 'known-hosts'
  ) {
    if (policy.mode === 'known-hosts') {
      const name = knownHostsName(address)
      this.pinned = parseKnownHosts(policy.knownHosts, input).filter((k) => k.matchesHost(name))
      if (!this.pinned.some((k) => !k.revoked)) {
        throw new InputError(
          input,
          `no line is for ${name}. Run 'ssh-keyscan ${address.port === 22 ? '' : `-p ${address.port} `}${address.host}' and add its output.`
        )
      }
    }
  }

  /** Host key algorithms to offer, so that the server shows a key type we can check. */
  serverHostKeyAlgorithms(): string[] | undefined {
    if (this.policy.mode !== 'known-hosts') return undefined
    const types = [...new Set(this.pinned.filter((k) => !k.revoked).map((k) => k.keyType))]
    return types.flatMap(algorithmsFor)
  }

  verify(keyBlob: Buffer): boolean {
    this.offered = { keyType: keyTypeOf(keyBlob), fingerprint: fingerprintOf(keyBlob) }
    switch (this.policy.mode) {
      case 'insecure':
        return true
      case 'unpinned':
        return false
      case 'fingerprint':
        return this.offered.fingerprint === this.policy.fingerprint
      case 'known-hosts':
        if (this.pinned.some((k) => k.revoked && k.keyBlob.equals(keyBlob))) return false
        return this.pinned.some((k) => !k.revoked && k.keyBlob.equals(keyBlob))
    }
  }

  /** The message for a refused host key: which host, what it offered, how to pin it. */
  refusal(): string {
    const host = describeHost(this.address)
    const offered = this.offered ? `${this.offered.keyType} key ${this.offered.fingerprint}` : 'no key'
    const scan = `ssh-keyscan ${this.address.port === 22 ? '' : `-p ${this.address.port} `}${this.address.host}`
    if (this.policy.mode === 'unpinned') {
      return (
        `Host key of ${host} is not pinned; the server offered ${offered}. ` +
        `Set known-hosts to the output of '${scan}' (checked on a machine you trust), or host-fingerprint: ${this.offered?.fingerprint ?? 'SHA256:...'}. ` +
        `strict-host-key: false skips the check, which lets anyone in the middle read your deploy.`
      )
    }
    const expected =
      this.policy.mode === 'fingerprint'
        ? `host-fingerprint ${this.policy.fingerprint}`
        : `known-hosts keys (${this.pinned.map((k) => `${k.keyType} ${fingerprintOf(k.keyBlob)}`).join(', ')})`
    return (
      `Host key of ${host} does not match: the server offered ${offered}, expected ${expected}. ` +
      `If the server was rebuilt or its key rotated, check it and update the pin ('${scan}'); otherwise someone may be in the middle.`
    )
  }
}
