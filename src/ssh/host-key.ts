import { HostAddress, HostKeyPolicy } from '../config/settings'
import { describeHost } from '../config/host-address'
import { KnownHostKey, fingerprintOf, keyTypeOf, pinnedKeys } from '../config/known-hosts'
import { DEFAULT_KEY_TYPES, algorithmsFor, checkableInOrder, keyTypesNamed } from '../config/host-key-types'

/** What the server offered, kept for the error message when it is refused. */
export interface OfferedKey {
  keyType: string
  fingerprint: string
}

/**
 * Decides whether the key a server offers is the one the user pinned, and
 * remembers what was offered so that a refusal can show it.
 *
 * A server shows one host key per connection, of the type the client prefers
 * among those it has; a pin of another type would be refused although the
 * server holds it. So the connection is steered: the first attempt asks for
 * every type the pin may be of, and after a refusal each further attempt asks
 * for one type not yet seen, until the pinned key shows or every type has.
 */
export class HostKeyCheck {
  /** The keys the server showed, one per type (the latest), in the order the types were seen. */
  readonly offered: OfferedKey[] = []
  private readonly pinned: KnownHostKey[]
  /** Key types the pin may be of; empty when nothing steers the connection (no pin, or no checking). */
  private readonly candidates: string[]
  /** Key types the server has none of (an attempt that asked only for them found no common type). */
  private readonly lacking = new Set<string>()
  private asked: string[] = []
  private attempts = 0
  private revokedSeen = false

  constructor(
    private readonly policy: HostKeyPolicy,
    private readonly address: HostAddress
  ) {
    this.pinned = pinnedKeys(policy, address)
    this.candidates = candidateTypes(policy, this.pinned)
  }

  /** Whether another connection could still show the pinned key. */
  hasNextAttempt(): boolean {
    if (this.attempts === 0) return true
    return !this.revokedSeen && this.unseen().length > 0
  }

  /**
   * Host key algorithms for the next connection (ssh2's `algorithms.serverHostKey`),
   * and counts the attempt; undefined: ssh2's own list, as nothing steers it.
   */
  nextAlgorithms(): string[] | undefined {
    this.asked = this.attempts === 0 ? this.unseen() : this.unseen().slice(0, 1)
    this.attempts++
    return this.candidates.length ? algorithmsFor(this.asked) : undefined
  }

  /** The attempt just made found no key type in common: the server has none of those asked for. */
  noCommonKeyType(): void {
    for (const keyType of this.asked) this.lacking.add(keyType)
  }

  verify(keyBlob: Buffer): boolean {
    const offered = { keyType: keyTypeOf(keyBlob), fingerprint: fingerprintOf(keyBlob) }
    const seen = this.offered.findIndex((o) => o.keyType === offered.keyType)
    if (seen === -1) this.offered.push(offered)
    else this.offered[seen] = offered
    switch (this.policy.mode) {
      case 'insecure':
        return true
      case 'unpinned':
        return false
      case 'fingerprint':
        return offered.fingerprint === this.policy.fingerprint && this.candidates.includes(offered.keyType)
      case 'known-hosts':
        // As ssh does: a revoked key ends the check, whatever other keys the server has.
        if (this.pinned.some((k) => k.revoked && k.keyBlob.equals(keyBlob))) {
          this.revokedSeen = true
          return false
        }
        return this.pinned.some((k) => !k.revoked && k.keyBlob.equals(keyBlob))
    }
  }

  /** The message for a refused host key: which host, what it offered, how to pin it. */
  refusal(): string {
    const host = describeHost(this.address)
    const scan = `ssh-keyscan ${this.address.port === 22 ? '' : `-p ${this.address.port} `}${this.address.host}`
    if (this.policy.mode === 'unpinned') {
      const first = this.offered[0]
      const offered = first ? `${first.keyType} key ${first.fingerprint}` : 'no key'
      return (
        `Host key of ${host} is not pinned; the server offered ${offered}. ` +
        `Set known-hosts to the output of '${scan}' (checked on a machine you trust), or host-fingerprint: ${first ? `${first.keyType} ${first.fingerprint}` : 'SHA256:...'}. ` +
        `strict-host-key: false skips the check, which lets anyone in the middle read your deploy.`
      )
    }
    const expected =
      this.policy.mode === 'fingerprint'
        ? `host-fingerprint ${this.policy.keyType ? `${this.policy.keyType} ` : ''}${this.policy.fingerprint}`
        : `known-hosts keys (${this.pinned.map((k) => `${k.revoked ? 'revoked ' : ''}${k.keyType} ${fingerprintOf(k.keyBlob)}`).join(', ')})`
    return (
      `Host key of ${host} does not match: the server offered ${this.offeredText()}, expected ${expected}. ` +
      `If the server was rebuilt or its key rotated, check it and update the pin ('${scan}'); otherwise someone may be in the middle.`
    )
  }

  /** Every key seen, one per type; or, when none showed, the types the server lacks. */
  private offeredText(): string {
    if (this.offered.length) return this.offered.map((o) => `${o.keyType} key ${o.fingerprint}`).join(', ')
    return this.lacking.size ? `no ${[...this.lacking].join(' or ')} key` : 'no key'
  }

  /** Candidate types neither shown nor missing on the server yet. */
  private unseen(): string[] {
    return this.candidates.filter((t) => !this.lacking.has(t) && !this.offered.some((o) => o.keyType === t))
  }
}

/** The key types a pin may be of, in ssh2's order of preference. */
function candidateTypes(policy: HostKeyPolicy, pinned: KnownHostKey[]): string[] {
  switch (policy.mode) {
    case 'fingerprint':
      return policy.keyType ? (keyTypesNamed(policy.keyType) ?? []) : DEFAULT_KEY_TYPES
    case 'known-hosts':
      return checkableInOrder(pinned.filter((k) => !k.revoked).map((k) => k.keyType))
    default:
      return []
  }
}
