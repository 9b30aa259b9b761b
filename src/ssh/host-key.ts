import { HostAddress, HostKeyPolicy } from '../config/settings'
import { describeHost } from '../config/host-address'
import { KnownHostKey, fingerprintOf, keyTypeOf, pinnedKeys } from '../config/known-hosts'

/** What the server offered, kept for the error message when it is refused. */
export interface OfferedKey {
  keyType: string
  fingerprint: string
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
  private readonly pinned: KnownHostKey[]

  constructor(
    private readonly policy: HostKeyPolicy,
    private readonly address: HostAddress
  ) {
    this.pinned = pinnedKeys(policy, address)
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
