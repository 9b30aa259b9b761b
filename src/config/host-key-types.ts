/**
 * Host key types: the names a key carries in its blob (`ssh-ed25519`,
 * `ssh-rsa`), the SSH algorithms that present a key of each type, and the
 * words users copy from ssh and ssh-keygen output to name a type.
 */

interface HostKeyType {
  /** The name at the start of the key blob, as in a known_hosts line. */
  keyType: string
  /** Host key algorithms (ssh2's `algorithms.serverHostKey`) that show this key, in ssh2's order. */
  algorithms: string[]
  /** The word `ssh-keygen -l` prints for it, e.g. (ED25519). */
  word: string
}

/** Every type ssh2 can check, in ssh2's order of preference. */
const HOST_KEY_TYPES: HostKeyType[] = [
  { keyType: 'ssh-ed25519', algorithms: ['ssh-ed25519'], word: 'ED25519' },
  { keyType: 'ecdsa-sha2-nistp256', algorithms: ['ecdsa-sha2-nistp256'], word: 'ECDSA' },
  { keyType: 'ecdsa-sha2-nistp384', algorithms: ['ecdsa-sha2-nistp384'], word: 'ECDSA' },
  { keyType: 'ecdsa-sha2-nistp521', algorithms: ['ecdsa-sha2-nistp521'], word: 'ECDSA' },
  // One RSA key serves all three algorithms; they differ only in the signature hash.
  { keyType: 'ssh-rsa', algorithms: ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'], word: 'RSA' },
  { keyType: 'ssh-dss', algorithms: ['ssh-dss'], word: 'DSA' }
]

/** The types a bare fingerprint may be of: ssh2's defaults, which leave out the weak DSA. */
export const DEFAULT_KEY_TYPES: string[] = HOST_KEY_TYPES.filter((t) => t.keyType !== 'ssh-dss').map((t) => t.keyType)

/** Host key algorithms that present a key of these types, in ssh2's order of preference. */
export function algorithmsFor(keyTypes: string[]): string[] {
  return HOST_KEY_TYPES.filter((t) => keyTypes.includes(t.keyType)).flatMap((t) => t.algorithms)
}

/** The types ssh2 can check among these, in ssh2's order of preference. */
export function checkableInOrder(keyTypes: Iterable<string>): string[] {
  const wanted = new Set(keyTypes)
  return HOST_KEY_TYPES.filter((t) => wanted.has(t.keyType)).map((t) => t.keyType)
}

/**
 * The key types a name stands for: a key type or algorithm as ssh prints it
 * (`ecdsa-sha2-nistp256`, `rsa-sha2-512`), or ssh-keygen's word (`ECDSA`: any
 * curve). Any case. Undefined for a name that is none of them.
 */
export function keyTypesNamed(name: string): string[] | undefined {
  const lower = name.toLowerCase()
  const found = HOST_KEY_TYPES.filter((t) => t.keyType === lower || t.algorithms.includes(lower) || t.word.toLowerCase() === lower)
  return found.length ? found.map((t) => t.keyType) : undefined
}

/** The names keyTypesNamed knows, for an error message. */
export function knownTypeNames(): string {
  const names = HOST_KEY_TYPES.flatMap((t) => [t.keyType, ...t.algorithms.filter((a) => a !== t.keyType)])
  const words = [...new Set(HOST_KEY_TYPES.map((t) => t.word))]
  return `${names.join(', ')}, or ${words.join(', ')}`
}
