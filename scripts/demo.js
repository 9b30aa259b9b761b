#!/usr/bin/env node
'use strict'
/**
 * npm run demo: a complete atomic-deploy session on this machine, in about
 * five seconds. It starts a throwaway OpenSSH sshd on 127.0.0.1 (its own
 * host key, user key and pinned known_hosts, all in one temporary folder),
 * or, where no sshd is installed (or ATOMIC_DEPLOY_DEMO_EMBEDDED_SSHD=1 is
 * set), the small SSH server of scripts/lib/embedded-sshd.js inside this
 * process, then runs the committed command-line bundle dist/cli/index.js against it:
 * deploy examples/site, store a "visitor upload" in shared/, deploy an edited
 * copy, list, roll back, list. The server's tree is printed after every step
 * that changes it, with the CLI's own log and the time each call took.
 * Everything it made is removed at the end, after a failure, or on Ctrl-C.
 *
 * Needs: node and `npm ci` (for ssh2); OpenSSH's sshd and ssh-keygen when
 * there, else nothing more. No network beyond 127.0.0.1.
 */
const { spawn, spawnSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const sshd = require('./lib/sshd')

/** Set to 1 to use the embedded SSH server even where OpenSSH's sshd is installed. */
const FORCE_EMBEDDED = 'ATOMIC_DEPLOY_DEMO_EMBEDDED_SSHD'

const REPO = path.resolve(__dirname, '..')
const CLI = 'dist/cli/index.js'
const SITE = 'examples/site'
const UPLOAD_NAME = 'visitor-upload.txt'
const STEPS = 8

/**
 * Everything cleanup needs to find, whatever moment it is called at.
 * @type {{ workdir?: string, serverStart?: Promise<any>, embedded?: { killNow: () => void }, child?: import('child_process').ChildProcess, cleanup?: Promise<void> }}
 */
const state = {}
/** @type {{ label: string, ms: number }[]} */
const timings = []
const startedAt = Date.now()

// ---------------------------------------------------------------- output

/** @param {string} [line] */
function say(line = '') {
  process.stdout.write(`${shorten(line)}\n`)
}

/** Writes a line as is, real paths included. @param {string} line */
function sayRaw(line) {
  process.stdout.write(`${line}\n`)
}

/** Paths under the temporary folder are shown as $DEMO/... @param {string} text */
function shorten(text) {
  return state.workdir ? text.split(state.workdir).join('$DEMO') : text
}

let stepNumber = 0
/** @param {string} title */
function heading(title) {
  stepNumber += 1
  say()
  say(`[${stepNumber}/${STEPS}] ${title}`)
}

/** @param {number} ms */
function seconds(ms) {
  return `${(ms / 1000).toFixed(2)} s`
}

/** A check the demo makes on the server's files; a failed one stops the demo. @param {boolean} ok @param {string} what */
function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`)
  say(`  ok: ${what}`)
}

// ---------------------------------------------------------------- the server's tree

/**
 * The deploy root as a tree, like the README's picture: current, releases/,
 * shared/, .atomic-deploy/ first; symlinks shown with their targets.
 * @param {string} root
 * @returns {string[]}
 */
function tree(root) {
  if (!fs.existsSync(root)) return [`  ${root}  (does not exist yet)`]
  const lines = [`  ${root}/`]
  const order = ['current', 'releases', 'shared', '.atomic-deploy']
  /** @param {string} dir @param {string} indent @param {boolean} top */
  const walk = (dir, indent, top) => {
    const names = fs.readdirSync(dir).sort((a, b) => {
      const ia = top ? order.indexOf(a) : -1
      const ib = top ? order.indexOf(b) : -1
      if (ia !== ib) return (ia === -1 ? order.length : ia) - (ib === -1 ? order.length : ib)
      return a < b ? -1 : a > b ? 1 : 0
    })
    names.forEach((name, index) => {
      const last = index === names.length - 1
      const full = path.join(dir, name)
      const stat = fs.lstatSync(full)
      let label = name
      if (stat.isSymbolicLink()) label = `${name} -> ${fs.readlinkSync(full)}`
      else if (stat.isDirectory()) label = `${name}/`
      else if (name === 'releases.log') label = `${name}  (${fs.readFileSync(full, 'utf8').split('\n').filter(Boolean).length} events)`
      else if (name === 'VERSION') label = `${name}  (${fs.readFileSync(full, 'utf8').trim()})`
      lines.push(`  ${indent}${last ? '└── ' : '├── '}${label}`)
      if (stat.isDirectory()) walk(full, indent + (last ? '    ' : '│   '), false)
    })
  }
  walk(root, '', true)
  return lines
}

/**
 * After a deploy the server copies its upload cache in the background for a
 * moment (the spare copy, src/remote/sh/lib/spare.sh): the tree is shown once
 * that is done.
 * @param {string} root
 */
async function printTree(root) {
  await sshd.settleSpareCopies(root, { ms: 60_000, depth: 0 })
  say('  server tree:')
  for (const line of tree(root)) say(`  ${line}`)
}

/** The <h1> a visitor gets from current/public/index.html. @param {string} root */
function servedHeading(root) {
  const html = fs.readFileSync(path.join(root, 'current/public/index.html'), 'utf8')
  const match = /<h1>([^<]*)<\/h1>/.exec(html)
  return match ? match[1] : '(no heading)'
}

// ---------------------------------------------------------------- running the CLI

/** @param {string} arg */
function quote(arg) {
  return /^[\w@%+=:,./$-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

/**
 * Runs `node dist/cli/index.js <args>` from the repository root, shows the
 * command and its log as it comes, and records the wall time.
 * @param {string} label
 * @param {string[]} args command and its own options
 * @param {string[]} connection the options every call shares
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string, ms: number }>}
 */
function cli(label, args, connection) {
  say(`  $ node ${CLI} ${args.map(quote).join(' ')} \\`)
  say(`      ${connection.map(quote).join(' ')}`)
  // The demo's options only: no ATOMIC_DEPLOY_* or GITHUB_* values from the caller's environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(ATOMIC_DEPLOY_|GITHUB_)/.test(key)))
  const begin = Date.now()
  const child = spawn(process.execPath, [CLI, ...args, ...connection], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] })
  state.child = child
  let stdout = ''
  let stderr = ''
  let partial = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => {
    stderr += chunk
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) say(`    ${line}`)
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (partial) say(`    ${partial}`)
      // What the command prints on stdout: the release id, or the release table.
      for (const line of stdout.trimEnd().split('\n')) if (line) say(`    ${line}`)
      state.child = undefined
      const ms = Date.now() - begin
      timings.push({ label, ms })
      say(`  ${signal ? `killed by ${signal}` : `exit ${code}`}, ${seconds(ms)} wall time`)
      resolve({ code, stdout, stderr, ms })
    })
  })
}

/** @param {{ code: number | null }} run @param {string} what */
function mustSucceed(run, what) {
  if (run.code !== 0) throw new Error(`${what} failed (exit ${run.code}); its log is above`)
}

/** UTC YYYYMMDDHHMMSS, the stamp the CLI puts in its default release id. */
function utcStamp() {
  return new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)
}

/**
 * The CLI names a release after the UTC second it started in (plus a commit
 * sha only when GITHUB_SHA is set), so two deploys started within one second
 * would get the same id and the second would be refused. Wait for the next second.
 * @param {string} previousId
 */
async function waitForNewSecond(previousId) {
  const stamp = previousId.slice(0, 14)
  if (!/^\d{14}$/.test(stamp)) return
  const begin = Date.now()
  while (utcStamp() <= stamp) await new Promise((resolve) => setTimeout(resolve, 20))
  const waited = Date.now() - begin
  if (waited > 0) say(`  (waited ${seconds(waited)}: default release ids are the UTC time to the second)`)
}

// ---------------------------------------------------------------- cleanup

/** Stops the CLI call in progress and sshd, removes the temporary folder. Safe to call twice. */
function cleanup() {
  if (!state.cleanup) {
    state.cleanup = (async () => {
      if (state.child && state.child.exitCode === null && state.child.signalCode === null) state.child.kill('SIGTERM')
      const server = state.serverStart ? await state.serverStart.catch(() => undefined) : undefined
      if (server) await server.stop()
      if (state.workdir) fs.rmSync(state.workdir, { recursive: true, force: true })
    })()
  }
  return state.cleanup
}

/** @param {NodeJS.Signals} signal @param {number} code */
function onSignal(signal, code) {
  process.on(signal, () => {
    if (state.cleanup) return // already cleaning up; let it finish
    process.stdout.write(`\n${signal}: stopping, removing everything the demo made\n`)
    cleanup().then(
      () => process.exit(code),
      (error) => {
        process.stderr.write(`cleanup failed: ${error.message}\n`)
        process.exit(code)
      }
    )
  })
}

// ---------------------------------------------------------------- the demo

/** @returns {string | undefined} what is missing, with the line that makes it */
function missingTools() {
  if (!fs.existsSync(path.join(REPO, CLI))) return `${CLI} is missing: run npm run build first.`
  return undefined
}

/** @returns {string | undefined} why the demo uses its embedded SSH server; undefined when OpenSSH's sshd will do */
function embeddedReason() {
  if (process.env[FORCE_EMBEDDED] === '1') return `${FORCE_EMBEDDED}=1 is set`
  if (!sshd.locateSshd()) return 'no OpenSSH server (sshd) is installed'
  const keygen = spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' })
  if (keygen.error && /** @type {NodeJS.ErrnoException} */ (keygen.error).code === 'ENOENT') return 'ssh-keygen (OpenSSH) is not installed'
  return undefined
}

/**
 * @typedef {object} DemoServer
 * @property {string} name how the demo's lines call it
 * @property {string} host
 * @property {number} port
 * @property {string} username
 * @property {string} knownHosts
 * @property {string} fingerprint
 * @property {string} root where deploy roots go, as the server sees it
 * @property {string} started the line that says it runs
 * @property {() => Promise<void>} stop
 */

/**
 * OpenSSH's sshd, as the end-to-end tests start it.
 * @param {string} userKeyFile @returns {Promise<DemoServer>}
 */
async function startOpenSshd(userKeyFile) {
  sshd.keygen(userKeyFile, 'ed25519')
  const server = await sshd.startSshd({ parentDir: state.workdir, userKeyFile })
  const asRoot = process.getuid?.() === 0 ? ' (a non-root user, created if missing, since this runs as root)' : ''
  return { ...server, name: 'sshd', started: `sshd pid ${server.pid} listening on ${server.host}:${server.port}, logging in ${server.username}${asRoot}` }
}

/**
 * The embedded SSH server, in this process; commands run as this process's user.
 * @param {string} userKeyFile @returns {Promise<DemoServer>}
 */
async function startEmbeddedServer(userKeyFile) {
  const embedded = require('./lib/embedded-sshd')
  const pair = embedded.generateKeyPair()
  fs.writeFileSync(userKeyFile, pair.privateKey, { mode: 0o600 })
  fs.writeFileSync(`${userKeyFile}.pub`, `${pair.publicKey}\n`)
  const root = path.join(/** @type {string} */ (state.workdir), 'srv')
  fs.mkdirSync(root)
  const server = await embedded.startEmbeddedSshd({ userPublicKey: pair.publicKey })
  state.embedded = server
  const started = `embedded SSH server (inside the demo, pid ${process.pid}) listening on ${server.host}:${server.port}, logging in ${server.username} (you)`
  return { ...server, root, name: 'the embedded SSH server', started }
}

async function main() {
  const missing = missingTools()
  if (missing) {
    process.stderr.write(`${missing}\n`)
    return 1
  }

  const embedded = embeddedReason()
  say('atomic-deploy demo')
  if (embedded) {
    say(`Using the embedded SSH server (scripts/lib/embedded-sshd.js, ssh2's Server) instead of OpenSSH's sshd: ${embedded}.`)
    say('It listens on 127.0.0.1 only and runs each command as you, with /bin/sh -c. sudo apt-get install -y openssh-server for the real one.')
  }
  say(`Deploys examples/site over SSH to ${embedded ? 'that server' : 'a throwaway sshd'} on 127.0.0.1, twice, then rolls back.`)
  say('Every call below is the committed CLI bundle, dist/cli/index.js, run as a user would.')

  // 1. the server -------------------------------------------------------
  heading(embedded ? 'Start the embedded SSH server' : 'Start a throwaway sshd')
  let begin = Date.now()
  state.workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-demo-'))
  // As root the server logs in a non-root user, who must reach the deploy root inside.
  fs.chmodSync(state.workdir, 0o755)
  sayRaw(`  temporary folder: $DEMO = ${state.workdir}`)
  const userKeyFile = path.join(state.workdir, 'user_key')
  state.serverStart = embedded ? startEmbeddedServer(userKeyFile) : startOpenSshd(userKeyFile)
  const server = await state.serverStart
  const knownHostsFile = path.join(state.workdir, 'known_hosts')
  fs.writeFileSync(knownHostsFile, server.knownHosts)
  const deployPath = path.join(server.root, 'site')
  timings.push({ label: embedded ? 'start the embedded SSH server (keys, listen)' : 'start sshd (keys, config, listen)', ms: Date.now() - begin })
  say(`  ${server.started}`)
  say(`  host key ${server.fingerprint}, pinned in $DEMO/known_hosts (host key checking stays on)`)
  say(`  deploy path on the server: ${deployPath}`)
  say(`  started in ${seconds(Date.now() - begin)}`)
  await printTree(deployPath)

  const connection = [
    '--host', `${server.host}:${server.port}`,
    '--username', server.username,
    '--ssh-key-file', userKeyFile,
    '--known-hosts-file', knownHostsFile,
    '--path', deployPath
  ]
  const current = () => fs.readlinkSync(path.join(deployPath, 'current'))
  const currentVersion = () => fs.readFileSync(path.join(deployPath, 'current/VERSION'), 'utf8').trim()
  const version1 = fs.readFileSync(path.join(REPO, SITE, 'VERSION'), 'utf8').trim()

  // 2. first deploy ---------------------------------------------------
  heading(`Deploy ${SITE} (version ${version1}), uploads/ shared`)
  const first = await cli(`deploy ${version1}`, ['deploy', '--source', SITE, '--shared', 'uploads/'], connection)
  mustSucceed(first, 'the first deploy')
  const id1 = first.stdout.trim()
  await printTree(deployPath)
  check(current() === `releases/${id1}`, `current -> releases/${id1}`)
  check(fs.lstatSync(path.join(deployPath, 'releases', id1, 'uploads')).isSymbolicLink(), 'uploads/ in the release is a link into shared/')
  say(`  visitors see: "${servedHeading(deployPath)}"`)

  // 3. a visitor upload ------------------------------------------------
  heading('A visitor uploads a file (written into shared/uploads on the server)')
  const uploads = path.join(deployPath, 'shared/uploads')
  const uploaded = path.join(uploads, UPLOAD_NAME)
  const uploadText = `uploaded at ${new Date().toISOString()} while ${id1} was live\n`
  fs.writeFileSync(uploaded, uploadText)
  const owner = fs.statSync(uploads)
  fs.chownSync(uploaded, owner.uid, owner.gid)
  say(`  wrote ${uploaded}`)
  check(fs.readFileSync(path.join(deployPath, 'current/uploads', UPLOAD_NAME), 'utf8') === uploadText, `current/uploads/${UPLOAD_NAME} shows it`)

  // 4. second deploy ---------------------------------------------------
  const version2 = bumpMinor(version1)
  heading(`Deploy an edited copy (version ${version2})`)
  const copy = path.join(state.workdir, 'site-v2')
  fs.cpSync(path.join(REPO, SITE), copy, { recursive: true })
  fs.writeFileSync(path.join(copy, 'VERSION'), `${version2}\n`)
  const index = path.join(copy, 'public/index.html')
  fs.writeFileSync(index, fs.readFileSync(index, 'utf8').split(`version ${version1}`).join(`version ${version2}`))
  fs.appendFileSync(path.join(copy, 'public/style.css'), 'h1 { color: #2e7d32; }\n')
  say(`  copied ${SITE} to $DEMO/site-v2 and edited it: VERSION ${version1} -> ${version2}, the <h1>, the heading colour`)
  await waitForNewSecond(id1)
  const second = await cli(`deploy ${version2}`, ['deploy', '--source', copy, '--shared', 'uploads/'], connection)
  mustSucceed(second, 'the second deploy')
  const id2 = second.stdout.trim()
  await printTree(deployPath)
  check(id2 !== id1 && current() === `releases/${id2}`, `current -> releases/${id2}`)
  check(currentVersion() === version2, `current/VERSION is ${version2}`)
  check(fs.existsSync(path.join(deployPath, 'releases', id1)), `the previous release ${id1} is kept for rollback`)
  check(fs.readFileSync(path.join(deployPath, 'current/uploads', UPLOAD_NAME), 'utf8') === uploadText, `the visitor's upload survived the deploy`)
  say(`  visitors see: "${servedHeading(deployPath)}"`)

  // 5. list ------------------------------------------------------------
  heading('List the releases (* marks current)')
  mustSucceed(await cli('list', ['list'], connection), 'list')

  // 6. rollback --------------------------------------------------------
  heading('Roll back to the previous good release')
  const back = await cli('rollback', ['rollback'], connection)
  mustSucceed(back, 'the rollback')
  await printTree(deployPath)
  check(back.stdout.trim() === id1 && current() === `releases/${id1}`, `current -> releases/${id1} again`)
  check(currentVersion() === version1, `current/VERSION is ${version1}`)
  check(fs.readFileSync(path.join(deployPath, 'current/uploads', UPLOAD_NAME), 'utf8') === uploadText, `the visitor's upload survived the rollback`)
  say(`  visitors see: "${servedHeading(deployPath)}"`)

  // 7. list again -------------------------------------------------------
  heading('List again: the release rolled away from is marked bad')
  const after = await cli('list', ['list'], connection)
  mustSucceed(after, 'list')
  check(new RegExp(`^\\s*${id2}\\s.*\\bbad\\s*$`, 'm').test(after.stdout), `${id2} is marked bad, so another rollback goes further back`)

  // 8. cleanup ----------------------------------------------------------
  heading('Clean up')
  begin = Date.now()
  const workdir = state.workdir
  await cleanup()
  timings.push({ label: `stop ${server.name}, remove $DEMO`, ms: Date.now() - begin })
  sayRaw(`  ${embedded ? server.name : `sshd pid ${server.pid}`} stopped; removed ${workdir}`)

  say()
  say('Timings (wall time of each call, including node start-up and the SSH handshake)')
  const width = Math.max(...timings.map((t) => shorten(t.label).length))
  for (const { label, ms } of timings) say(`  ${shorten(label).padEnd(width)}  ${seconds(ms).padStart(7)}`)
  say(`  ${'total'.padEnd(width)}  ${seconds(Date.now() - startedAt).padStart(7)}`)
  say()
  say(`Demo finished: deployed ${id1} and ${id2}, rolled back to ${id1}, nothing left behind.`)
  return 0
}

/** 1.0.0 -> 1.1.0 @param {string} version */
function bumpMinor(version) {
  const parts = version.split('.').map(Number)
  if (parts.length < 2 || parts.some(Number.isNaN)) return `${version}-edited`
  parts[1] += 1
  if (parts.length > 2) parts[2] = 0
  return parts.join('.')
}

onSignal('SIGINT', 130)
onSignal('SIGTERM', 143)
onSignal('SIGHUP', 129)
// Last resort if the process ends some other way: no sshd, no command of the embedded server, no folder left.
process.on('exit', () => {
  state.embedded?.killNow()
  if (state.workdir && fs.existsSync(state.workdir)) {
    if (state.child && state.child.pid && state.child.exitCode === null) state.child.kill('SIGKILL')
    for (const entry of fs.readdirSync(state.workdir)) {
      try {
        const pid = Number(fs.readFileSync(path.join(state.workdir, entry, 'sshd.pid'), 'utf8'))
        if (pid > 0) process.kill(pid, 'SIGKILL')
      } catch {
        // not the server's folder, no pid file yet, or sshd already gone
      }
    }
    fs.rmSync(state.workdir, { recursive: true, force: true })
  }
})

main().then(
  (code) => {
    process.exitCode = code
  },
  async (error) => {
    process.stderr.write(`\ndemo failed: ${shorten(error instanceof Error ? error.message : String(error))}\n`)
    process.stdout.write('removing everything the demo made\n')
    try {
      await cleanup()
    } catch (cleanupError) {
      process.stderr.write(`cleanup failed: ${/** @type {Error} */ (cleanupError).message}\n`)
    }
    process.exitCode = 1
  }
)
