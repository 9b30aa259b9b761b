/** Host keys as the user pins them: known_hosts lines and SHA256 fingerprints, parsed and checked before connecting. */
import { createHash, createHmac } from 'crypto'
import { HostAddress, HostKeyPolicy } from './settings'
import { InputError, shown } from './input-error'
import { knownHostsName } from './host-address'
import { keyTypesNamed, knownTypeNames } from './host-key-types'

/** One usable line of a known_hosts text. */
export interface KnownHostKey {
  matchesHost(name: string): boolean
  keyType: string
  keyBlob: Buffer
  revoked: boolean
}

/** A host-fingerprint value: the fingerprint, and the key type it was named with, if any. */
export interface PinnedFingerprint {
  fingerprint: string
  /** As written: `ecdsa-sha2-nistp256`, `ECDSA`; unset for a bare fingerprint. */
  keyType?: string
}

const FINGERPRINT = 'SHA256:([A-Za-z0-9+/]{43})=?'

/**
 * Reads `SHA256:...`, `<type> SHA256:...` (the type as ssh prints it, or
 * ssh-keygen's word), or a whole `ssh-keygen -l` line, which ends in the word.
 */
export function parseFingerprint(text: string, input = 'host-fingerprint'): PinnedFingerprint {
  const trimmed = text.trim()
  const typed = new RegExp(`^(?:(\\S+)\\s+)?${FINGERPRINT}$`).exec(trimmed)
  const keygenLine = new RegExp(`^\\d+\\s+${FINGERPRINT}(?:\\s.*)?\\s\\((\\S+)\\)$`).exec(trimmed)
  const [fingerprint, keyType] = typed ? [typed[2], typed[1]] : keygenLine ? [keygenLine[1], keygenLine[2]] : []
  if (!fingerprint) {
    throw new InputError(
      input,
      `${shown(text)} is not a SHA256 fingerprint. Expected SHA256: and 43 base64 characters, after the key type or not: 'ssh-ed25519 SHA256:...', 'ECDSA SHA256:...', as 'ssh-keygen -lf <(ssh-keyscan host)' prints.`
    )
  }
  if (keyType !== undefined && !keyTypesNamed(keyType)) {
    throw new InputError(input, `${shown(keyType)} is not a host key type. Name the type before the fingerprint as one of ${knownTypeNames()}; or give the fingerprint alone.`)
  }
  return keyType === undefined ? { fingerprint: `SHA256:${fingerprint}` } : { fingerprint: `SHA256:${fingerprint}`, keyType }
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
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 'i')
}

/**
 * The usable known_hosts keys for one server; throws, naming the input, when
 * no line is for it (so the mistake shows before connecting).
 */
export function pinnedKeys(policy: HostKeyPolicy, address: HostAddress, input = 'known-hosts'): KnownHostKey[] {
  if (policy.mode !== 'known-hosts') return []
  const name = knownHostsName(address)
  const pinned = parseKnownHosts(policy.knownHosts, input).filter((k) => k.matchesHost(name))
  if (!pinned.some((k) => !k.revoked)) {
    throw new InputError(input, `no line is for ${name}. Run 'ssh-keyscan ${address.port === 22 ? '' : `-p ${address.port} `}${address.host}' and add its output.`)
  }
  return pinned
}
