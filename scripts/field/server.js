#!/usr/bin/env node
'use strict'
/**
 * Starts the test sshd of scripts/lib/sshd.js on 127.0.0.1 for the field
 * workflow (.github/workflows/field.yml) and keeps it running until killed.
 * Writes what a deploy needs into the folder given as the first argument:
 * `key` (the user's private key), `known_hosts`, and `server.env` (HOST,
 * PORT, USERNAME, ROOT lines), then `ready`, last, so a waiting step knows
 * the rest is there.
 *
 * Run as root on Linux (sshd then logs in a dedicated deploy user); the
 * files are handed to the user who ran sudo, so the next steps can read them.
 */
const fs = require('fs')
const path = require('path')
const { startSshd, deployRoot } = require('../lib/sshd')

async function main() {
  const out = process.argv[2]
  if (!out) throw new Error('usage: node scripts/field/server.js <folder for key, known_hosts, server.env>')
  fs.mkdirSync(out, { recursive: true })
  // Three host key types, as most servers have: the field deploys pin the RSA one, which ssh2 does not ask for first.
  const server = await startSshd({ hostKeyTypes: ['ed25519', 'ecdsa', 'rsa'] })
  const rsa = server.hostKeys.find((key) => key.keyType === 'ssh-rsa')
  const files = {
    key: server.userKey,
    known_hosts: server.knownHosts,
    'server.env': [
      `HOST=${server.host}`,
      `PORT=${server.port}`,
      `USERNAME=${server.username}`,
      `ROOT=${deployRoot(server, 'app')}`,
      `RSA_FINGERPRINT=${rsa ? rsa.fingerprint : ''}`,
      ''
    ].join('\n'),
    ready: ''
  }
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(out, name)
    fs.writeFileSync(file, text, { mode: 0o600 })
    if (process.env.SUDO_UID) fs.chownSync(file, Number(process.env.SUDO_UID), Number(process.env.SUDO_GID))
  }
  console.log(`sshd listening on ${server.host}:${server.port}, logging in ${server.username}`)
  const stop = () => server.stop().then(() => process.exit(0))
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // sshd's own log, for the job log when something fails.
  setInterval(() => fs.writeFileSync(path.join(out, 'sshd.log'), server.log()), 2000)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
