import { utils } from 'ssh2'
import { InputError } from './input-error'

/**
 * Repairs what pasting a key into a secret store does to it: Windows line
 * ends, surrounding blank lines, a missing final newline, or `\n` typed out
 * literally. The key material itself is never changed.
 */
export function repairPrivateKey(text: string): string {
  let key = text.replace(/\r\n?/g, '\n').trim()
  if (!key.includes('\n') && key.includes('\\n')) key = key.replace(/\\n/g, '\n')
  key = key
    .split('\n')
    .map((line) => line.trim())
    .join('\n')
  return `${key}\n`
}

/**
 * Checks that the key can be used, and says exactly what is wrong when it
 * cannot. Never includes key material in the message.
 */
export function checkPrivateKey(key: string, passphrase: string | undefined, input = 'ssh-key'): void {
  if (/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-\S+|sk-\S+) AAAA/.test(key)) {
    throw new InputError(input, 'this is a public key (one line starting with its type). Give the private key, the file without .pub.')
  }
  if (key.startsWith('PuTTY-User-Key-File')) {
    throw new InputError(input, "this is a PuTTY .ppk key. Convert it with 'puttygen key.ppk -O private-openssh -o key' and give that file's text.")
  }
  if (!/^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\n/.test(key) || !/\n-----END [A-Z0-9 ]*PRIVATE KEY-----\n$/.test(key)) {
    throw new InputError(input, "expected the whole private key text, from its '-----BEGIN ... PRIVATE KEY-----' line to its '-----END ... PRIVATE KEY-----' line.")
  }
  const parsed = utils.parseKey(key, passphrase)
  if (!(parsed instanceof Error)) return
  const reason = parsed.message
  if (/no passphrase given/i.test(reason)) {
    throw new InputError(`${input}-passphrase`, `the key is encrypted; set ${input}-passphrase to its passphrase.`)
  }
  if (/passphrase|decrypt/i.test(reason)) {
    throw new InputError(`${input}-passphrase`, 'the passphrase does not open the key; check the secret that holds it.')
  }
  throw new InputError(
    input,
    `the key could not be read (${reason}). Supported: OpenSSH and PEM keys of type ed25519, ecdsa and rsa; 'ssh-keygen -p -f key' rewrites an old key in a supported form.`
  )
}
