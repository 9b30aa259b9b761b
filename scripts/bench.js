#!/usr/bin/env node
'use strict'
/**
 * npm run bench: how fast atomic-deploy ships a tree, measured side by side in
 * one run against `tar czf - . | ssh host 'tar xzf -'`, rsync -a --delete
 * into one folder (not atomic) and shipit-deploy, on this machine. Everything
 * runs against throwaway OpenSSH servers: one on 127.0.0.1
 * (scripts/lib/sshd.js), and, when this machine allows it (root, ip and tc),
 * one inside a network namespace behind a veth pair shaped to 100 Mbit/s with
 * tc tbf.
 *
 *   node scripts/bench.js [--tree laravel|files|both] [--small] [--runs N]
 *                         [--server-dir DIR | --tmpfs] [--no-slow-link] [--help]
 *
 * Trees (generated once from a seeded PRNG and cached under os.tmpdir(), keyed
 * by their version: TREE_VERSION for "files", LARAVEL_TREE_VERSION for
 * "laravel"; --small makes each a tenth of the size, for a quick run):
 * - laravel (default): a Laravel-like application, 14,676 files in 5,344
 *   folders (20,020 entries), 125 MiB (131 MB): PHP-like sources in vendor/<vendor>/<pkg>/
 *   nested folders, random-byte "images" under public/, a few big JS bundles
 *   under public/build/. It is a git checkout (git init, add, commit with a
 *   fixed author and date), because a CI workspace is one; every tool leaves
 *   .git out (atomic-deploy always does; tar --exclude, rsync --exclude and
 *   shipit's ignores are told to).
 * - files: the older 10,000 files / 100 MiB, half random bytes, half text.
 *
 * Deploy roots are on disk by default: a folder under /var/tmp (or
 * os.tmpdir() when /var/tmp is missing), whose file system the report names
 * (ext4 here). --tmpfs puts them on /dev/shm instead, where copying a tree is
 * nearly free; every heading then says "tmpfs", because those numbers do not
 * tell how a real server's disk behaves. --server-dir DIR picks any folder.
 *
 * Rows on the loopback link, in every run, in this order: the tar | ssh
 * pipeline; rsync -a --delete, full then after a one-file change; shipit-deploy
 * full then one-file change; atomic-deploy with its defaults, full then
 * one-file change; then atomic-deploy variants (hardlink-releases, forced
 * compressions). A one-file change edits one small file of the workspace
 * (same size, new content) and deploys again into the same root.
 *
 * shipit-deploy: npm's shipit-cli and shipit-deploy are installed by each run
 * into a temporary folder inside the bench's work folder
 * (npm install --no-audit --no-fund), never into this project. Its shipitfile
 * deploys the local workspace instead of cloning: no repositoryUrl (shipit then
 * skips its git fetch), workspace = the bench workspace, keepWorkspace: true
 * (so shipit does not delete it), shallowClone: false, branch: HEAD (shipit
 * writes `git rev-parse HEAD` into REVISION, so the workspace must be a
 * checkout), ignores: ['.git']. Each deploy makes releases/<UTC
 * YYYYMMDDHHmmss>, copies the previous release into it with cp -a and rsyncs
 * the workspace over it (rsync --archive --compress --del), then switches
 * current with ln -nfs; the bench waits for the next second between two shipit
 * deploys so two releases never get the same name. When npm, the install or a
 * deploy fails, its rows print "not available: <why>" and the rest goes on.
 *
 * Each scenario runs --runs times (default 3); the report shows medians, every
 * run, ratios, and one verdict line per target of issue 17 (met / not met, with
 * the measured ratio), as Markdown. The load average at start and the deploy
 * roots' file system are in the report.
 *
 * Every CLI call is the committed bundle, dist/cli/index.js, run as
 * `node -r <preload> dist/cli/index.js deploy --json ...`; the preload writes
 * process.resourceUsage().maxRSS at exit, for the peak memory column.
 * Deploy roots, servers, namespaces and temporary files (shipit's install
 * included) are removed at the end, after a failure and on Ctrl-C; only the
 * cached trees stay.
 */
const { spawn, execFileSync, spawnSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const sshd = require('./lib/sshd')

const REPO = path.resolve(__dirname, '..')
const CLI = path.join(REPO, 'dist/cli/index.js')
/** Bump when the generator changes: a new version means a new cached tree. */
const TREE_VERSION = 'v1'
/** The same for the Laravel-like tree, in its own cache namespace. */
const LARAVEL_TREE_VERSION = 'laravel-v1'
const SEED = 0x5eed2026
const MiB = 1024 * 1024
const KiB = 1024
const EDIT_FILE = 'pkg-00/mod-00/edit-me.txt'
const LARAVEL_EDIT_FILE = 'app/Http/Controllers/DashboardController.php'
const EDIT_SIZE = 10 * KiB
const SLOW_RATE = '100mbit'
/** Each direction of the slowed link is held this long by a relay (the kernel has no netem): a 50 ms round trip. */
const SLOW_DELAY_MS = 25

// ---------------------------------------------------------------- options

function usage() {
  return [
    'Usage: node scripts/bench.js [--tree laravel|files|both] [--small] [--runs N] [--server-dir DIR | --tmpfs] [--no-slow-link]',
    '',
    '  --tree T          laravel (default): Laravel-like git checkout, 14.7k files + 5.3k folders, 125 MiB;',
    '                    files: 10,000 files / 100 MiB; both: one after the other',
    '  --small           each tree a tenth of its size (a quick run)',
    '  --runs N          runs per scenario, medians are reported (default 3)',
    '  --server-dir DIR  where the servers keep their deploy roots (default: /var/tmp, a disk)',
    '  --tmpfs           deploy roots on /dev/shm (tmpfs), labelled so: copying is nearly free there',
    '  --no-slow-link    skip the scenarios over the link slowed to 100 Mbit/s',
    '',
    'Needs: node, OpenSSH (sshd, ssh, ssh-keygen), GNU tar, gzip, git; zstd and rsync if present',
    '(as root, a missing rsync is installed with apt-get); npm for the shipit-deploy rows.',
    'The slowed link needs root, ip and tc.'
  ].join('\n')
}

function parseArgs(argv) {
  const options = { small: false, runs: 3, slowLink: true, tree: 'laravel', tmpfs: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--small') options.small = true
    else if (arg === '--no-slow-link') options.slowLink = false
    else if (arg === '--tmpfs') options.tmpfs = true
    else if (arg === '--tree' || arg.startsWith('--tree=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i]
      if (!['laravel', 'files', 'both'].includes(value)) throw new UsageError(`--tree: expected laravel, files or both, got ${JSON.stringify(value)}`)
      options.tree = value
    }
    else if (arg === '--runs' || arg.startsWith('--runs=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i]
      const runs = Number(value)
      if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new UsageError(`--runs: expected a whole number from 1 to 50, got ${JSON.stringify(value)}`)
      options.runs = runs
    } else if (arg === '--server-dir' || arg.startsWith('--server-dir=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i]
      if (!value || !path.isAbsolute(value) || !fs.existsSync(value) || !fs.statSync(value).isDirectory()) throw new UsageError(`--server-dir: expected an existing absolute folder, got ${JSON.stringify(value)}`)
      options.serverDir = value
    } else if (arg === '--help' || arg === '-h') options.help = true
    else throw new UsageError(`unknown option ${arg}`)
  }
  if (options.tmpfs && options.serverDir) throw new UsageError('--tmpfs and --server-dir exclude each other')
  return options
}

class UsageError extends Error {}

// ---------------------------------------------------------------- state and cleanup

/**
 * Everything cleanup must find, whatever moment it runs at.
 * @type {{ workdir?: string, serverDir?: string, children: Set<import('child_process').ChildProcess>, servers: Array<{ stop: () => Promise<void>, pid?: number }>, namespaces: string[], cleanup?: Promise<void> }}
 */
const state = { children: new Set(), servers: [], namespaces: [] }

function cleanup() {
  if (!state.cleanup) {
    state.cleanup = (async () => {
      for (const child of state.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      for (const server of state.servers.splice(0)) {
        try {
          await withTimeout(server.stop(), 5000)
        } catch {
          if (server.pid) tryKill(server.pid, 'SIGKILL')
        }
      }
      deleteNamespaces()
      for (const dir of [state.serverDir, state.workdir]) if (dir) fs.rmSync(dir, { recursive: true, force: true })
    })()
  }
  return state.cleanup
}

function deleteNamespaces() {
  for (const ns of state.namespaces.splice(0)) {
    // Deleting a namespace removes the veth end in it, and with it its peer.
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
  }
}

function tryKill(pid, signal) {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())])
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(signal, () => {
    if (state.cleanup) return
    process.stdout.write(`\n${signal}: stopping; removing deploy roots, servers and namespaces\n`)
    cleanup().finally(() => process.exit(code))
  })
}

// Last resort, when the process ends some other way: synchronous only.
process.on('exit', () => {
  for (const child of state.children) if (child.pid && child.exitCode === null) tryKill(child.pid, 'SIGKILL')
  for (const server of state.servers) if (server.pid) tryKill(server.pid, 'SIGKILL')
  deleteNamespaces()
  for (const dir of [state.serverDir, state.workdir]) if (dir && fs.existsSync(dir)) fs.rmSync(dir, { recursive: true, force: true })
})

// ---------------------------------------------------------------- small helpers

function say(line = '') {
  process.stdout.write(`${line}\n`)
}

function which(name) {
  for (const dir of (process.env.PATH || '/usr/bin:/bin').split(':')) {
    const candidate = path.join(dir || '.', name)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      if (fs.statSync(candidate).isFile()) return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/** First line of `command args` (stdout or stderr), or undefined. */
function versionLine(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8' })
  if (result.error) return undefined
  return `${result.stdout || ''}${result.stderr || ''}`.split('\n').find((line) => line.trim()) || undefined
}

/** The file system a folder is on, from /proc/mounts: "tmpfs at /dev/shm". */
function fsType(dir) {
  let real
  try {
    real = fs.realpathSync(dir)
    const mounts = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((line) => line.split(' ')).filter((parts) => parts.length > 2)
    let best
    for (const [device, rawMount, type] of mounts) {
      const mount = rawMount.replace(/\\040/g, ' ')
      const inside = real === mount || real.startsWith(mount.endsWith('/') ? mount : `${mount}/`)
      if (inside && (!best || mount.length >= best.mount.length)) best = { device, mount, type }
    }
    if (!best) return 'unknown file system'
    return `${best.type}${best.type === 'ext4' && !hasJournal(best.device) ? ' without a journal' : ''} at ${best.mount}`
  } catch {
    return 'unknown file system'
  }
}

/** When the last bench removed its deploy roots (ms since the epoch), for the next one to wait out. */
const CLEANED_AT_FILE = path.join(os.tmpdir(), 'atomic-deploy-bench-cleaned-at')
/** How long inodes freed count as recent for ext4 without a journal: 60 s, 300 s more while their inode table block is unwritten. */
const RECENT_DELETIONS_MS = 360_000

/**
 * On ext4 without a journal, a bench started right after the last one
 * removed its roots would have its first rows pay for that removal (see
 * newRoot): it waits until those deletions no longer count as recent.
 */
async function waitOutLastCleanup() {
  let cleanedAt
  try {
    cleanedAt = Number(fs.readFileSync(CLEANED_AT_FILE, 'utf8'))
  } catch {
    return
  }
  const waitMs = cleanedAt + RECENT_DELETIONS_MS - Date.now()
  if (!(waitMs > 0)) return
  say(`  waiting ${fmtS(waitMs)}: the last bench removed its deploy roots ${fmtS(Date.now() - cleanedAt)} ago, and on this file system files made within ${RECENT_DELETIONS_MS / 60_000} minutes of a removal that large are made several times slower`)
  execFileSync('sync')
  await sleep(waitMs)
}

/** Copies of the tree one run's deploy roots hold (all kept to the end): 14 on loopback, 6 over the slowed link, rounded up. */
const ROOT_COPIES_PER_RUN = 22

function warnIfShortOfRoom(dir, need) {
  const stats = fs.statfsSync(dir)
  const free = stats.bavail * stats.bsize
  if (free < need) say(`  warning: ${fmtBytes(free)} free where the deploy roots go, and this run keeps about ${fmtBytes(need)} in them until the end; pick another folder with --server-dir DIR`)
}

/**
 * False for an ext4 file system the kernel lists (/proc/fs/ext4/<device>)
 * with no journal (no /proc/fs/jbd2/<device>-N); true when that cannot be told.
 */
function hasJournal(device) {
  const name = path.basename(device)
  if (!fs.existsSync(path.join('/proc/fs/ext4', name))) return true
  try {
    return fs.readdirSync('/proc/fs/jbd2').some((entry) => entry.startsWith(`${name}-`))
  } catch {
    return false
  }
}

/**
 * Where the servers keep deploy roots: on disk by default (/var/tmp, which
 * survives reboots and so is never a tmpfs on a usual system), or on
 * /dev/shm with --tmpfs, refused when that is not a tmpfs with room.
 */
function serverParent(options) {
  if (options.serverDir) return options.serverDir
  if (options.tmpfs) {
    const need = (options.small ? 0.25 : 2) * 1024 ** 3
    let stats
    try {
      stats = fs.statfsSync('/dev/shm')
    } catch {
      throw new UsageError('--tmpfs: /dev/shm is missing')
    }
    if (!fsType('/dev/shm').startsWith('tmpfs ')) throw new UsageError(`--tmpfs: /dev/shm is ${fsType('/dev/shm')}, not a tmpfs`)
    if (stats.bavail * stats.bsize < need) throw new UsageError(`--tmpfs: /dev/shm has less than ${fmtBytes(need)} free`)
    return '/dev/shm'
  }
  try {
    fs.accessSync('/var/tmp', fs.constants.W_OK)
    return '/var/tmp'
  } catch {
    return os.tmpdir()
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const fmtS = (ms) => `${(ms / 1000).toFixed(2)} s`
const fmtX = (ratio) => `${ratio.toFixed(2)}x`
function fmtBytes(bytes) {
  if (bytes < 10 * KiB) return `${bytes} B`
  if (bytes < MiB) return `${(bytes / KiB).toFixed(1)} KiB`
  return `${(bytes / MiB).toFixed(1)} MiB`
}

/** Environment for the commands we time: nothing from the caller's ATOMIC_DEPLOY_* or GITHUB_*. */
function cleanEnv(extra = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(ATOMIC_DEPLOY_|GITHUB_)/.test(key)))
  return { ...env, LC_ALL: 'C', ...extra }
}

/**
 * Runs a command to its end, timing its wall clock from spawn to exit, and
 * when each line of its stderr arrived (for the phase breakdown).
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string, ms: number, lines: Array<{ ms: number, text: string }> }>}
 */
function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const begin = process.hrtime.bigint()
    const child = spawn(command, args, { cwd: options.cwd, env: options.env || cleanEnv(), stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
    state.children.add(child)
    let stdout = ''
    let stderr = ''
    let partial = ''
    const lines = []
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      const at = Number(process.hrtime.bigint() - begin) / 1e6
      const parts = (partial + chunk).split('\n')
      partial = parts.pop()
      for (const text of parts) lines.push({ ms: at, text })
    })
    if (options.input) {
      child.stdin.on('error', () => undefined)
      child.stdin.end(options.input)
    }
    child.on('error', (error) => {
      state.children.delete(child)
      reject(error)
    })
    child.on('close', (code, signal) => {
      state.children.delete(child)
      resolve({ code, signal, stdout, stderr, lines, ms: Number(process.hrtime.bigint() - begin) / 1e6 })
    })
  })
}

function tail(text, lines = 12) {
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

// ---------------------------------------------------------------- the reference tree

/** sfc32, seeded through splitmix32: deterministic on every platform, no Math.random. */
function makeRng(seed) {
  let s = seed >>> 0
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
  let a = split()
  let b = split()
  let c = split()
  let d = split()
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) >>> 0
    return t
  }
  for (let i = 0; i < 12; i++) next()
  return {
    next,
    float: () => next() / 4294967296,
    int: (n) => Math.floor((next() / 4294967296) * n)
  }
}

function randomBytes(size, seed) {
  const rng = makeRng(seed)
  const words = new Uint32Array(Math.ceil(size / 4))
  for (let i = 0; i < words.length; i++) words[i] = rng.next()
  return Buffer.from(words.buffer, 0, size)
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ex', 'port', 'func', 'tion', 'con', 'st', 're', 'turn', 'data', 'val', 'ue', 'get', 'set', 'user', 'id', 'list', 'map', 'node', 'el', 'ment', 'str', 'ing', 'in', 'dex']
const PUNCT = [';', ' {', '', ',', ' }', ')', ' =>', ':']
let vocabulary
function vocab() {
  if (!vocabulary) {
    const rng = makeRng(SEED ^ 0x7ec7)
    vocabulary = []
    for (let i = 0; i < 800; i++) {
      let word = ''
      const parts = 1 + rng.int(3)
      for (let p = 0; p < parts; p++) word += SYLLABLES[rng.int(SYLLABLES.length)]
      vocabulary.push(Buffer.from(word))
    }
    for (const keyword of ['const', 'let', 'return', 'if', 'else', 'function', 'import', 'export', 'await', 'async', 'new', 'this', 'null', 'true', 'false', '=', '+', '(', ')', '[', ']', '.', '0', '1', '"use strict"']) {
      for (let r = 0; r < 6; r++) vocabulary.push(Buffer.from(keyword))
    }
  }
  return vocabulary
}

/** Source-like text of exactly `size` bytes: indented lines of words, ending in a newline. */
function textBytes(size, seed) {
  const rng = makeRng(seed)
  const words = vocab()
  const buf = Buffer.allocUnsafe(size)
  let off = 0
  while (off < size) {
    const indent = 2 * rng.int(4)
    for (let i = 0; i < indent && off < size; i++) buf[off++] = 0x20
    const count = 2 + rng.int(9)
    for (let w = 0; w < count && off < size; w++) {
      if (w > 0) buf[off++] = 0x20
      const word = words[rng.int(words.length)]
      off += word.copy(buf, off, 0, Math.min(word.length, size - off))
    }
    const punct = PUNCT[rng.int(PUNCT.length)]
    for (let i = 0; i < punct.length && off < size; i++) buf[off++] = punct.charCodeAt(i)
    if (off < size) buf[off++] = 0x0a
  }
  buf[size - 1] = 0x0a
  return buf
}

/** Sizes for `count` files summing to exactly `total`, spread over a 64x range. */
function sizes(count, total, rng) {
  const weights = Array.from({ length: count }, () => Math.exp(rng.float() * Math.log(64)))
  const sum = weights.reduce((a, b) => a + b, 0)
  const out = weights.map((w) => Math.max(1, Math.floor((w / sum) * total)))
  out[out.length - 1] += total - out.reduce((a, b) => a + b, 0)
  return out
}

/**
 * The tree to deploy: `files` files and `bytes` bytes, half random bytes and
 * half text (by count and by bytes), in nested folders, with EDIT_FILE a
 * 10 KiB text file. Fixed modes and times, so the same version gives the same tree.
 */
function treeSpec(small) {
  const files = small ? 1000 : 10000
  const bytes = (small ? 10 : 100) * MiB
  const rng = makeRng(SEED)
  const top = small ? 5 : 20
  const textSizes = sizes(files / 2 - 1, bytes / 2 - EDIT_SIZE, rng)
  const binarySizes = sizes(files / 2, bytes / 2, rng)
  const entries = [{ path: EDIT_FILE, kind: 'text', size: EDIT_SIZE, seed: SEED + 1 }]
  const textExt = ['js', 'css', 'html', 'php', 'json', 'md']
  const binExt = ['png', 'woff2', 'jpg', 'bin']
  for (let i = 0; i < files - 1; i++) {
    const kind = i % 2 === 0 ? 'binary' : 'text'
    const size = kind === 'text' ? textSizes[(i - 1) / 2] : binarySizes[i / 2]
    let dir = `pkg-${String(rng.int(top)).padStart(2, '0')}/mod-${String(rng.int(10)).padStart(2, '0')}`
    if (rng.int(2)) dir += `/lib-${rng.int(4)}`
    const ext = kind === 'text' ? textExt[i % textExt.length] : binExt[i % binExt.length]
    entries.push({ path: `${dir}/${kind === 'text' ? 'src' : 'asset'}-${String(i).padStart(5, '0')}.${ext}`, kind, size, seed: (SEED + 2 + i) >>> 0 })
  }
  return { files, bytes, entries, editFile: EDIT_FILE }
}

const STUDLY = ['Support', 'Http', 'Console', 'Database', 'Events', 'Queue', 'Cache', 'Auth', 'Routing', 'View', 'Mail', 'Validation', 'Foundation', 'Contracts', 'Collections', 'Filesystem', 'Log', 'Session', 'Bus', 'Pipeline', 'Redis', 'Translation', 'Cookie', 'Encryption', 'Hashing', 'Notifications', 'Pagination', 'Broadcasting', 'Testing', 'Concerns', 'Traits', 'Exceptions', 'Middleware', 'Resources', 'Factories', 'Casts', 'Rules', 'Jobs', 'Listeners', 'Policies', 'Providers', 'Commands', 'Drivers', 'Adapters', 'Parsers', 'Nodes', 'Visitors', 'Builders', 'Grammars', 'Schema']

let plainWords
/** A lower-case name from the vocabulary's plain words: "kalo", "userdata". */
function slug(rng) {
  if (!plainWords) plainWords = vocab().map(String).filter((word) => /^[a-z]{2,}$/.test(word))
  return plainWords[rng.int(plainWords.length)]
}

/**
 * A Laravel-like application (full: 14,676 files in 5,344 folders, 125 MiB;
 * small: 1,287 files in 503 folders, 12.6 MiB): vendor/<vendor>/<package>/ with nested src/ folders
 * of PHP-like files, app/, config/, database/, resources/, routes/, random-byte
 * images under public/images/, a few big JS bundles under public/build/.
 * The one-file change edits LARAVEL_EDIT_FILE, a 10 KiB controller.
 */
function laravelSpec(small) {
  const scale = small ? 0.1 : 1
  const rng = makeRng(SEED ^ 0x1a7a)
  const entries = []
  const add = (file, kind, size) => entries.push({ path: file, kind, size, seed: (SEED + 0x10000 + entries.length) >>> 0 })
  add(LARAVEL_EDIT_FILE, 'php', EDIT_SIZE)

  // vendor/: 64 vendors (small: 6), 1 to 5 packages each, ~27 nested folders and 65 PHP files a package.
  const vendors = Math.max(1, Math.round(64 * scale))
  const phpFiles = []
  const used = new Set()
  for (let v = 0; v < vendors; v++) {
    let vendor = slug(rng)
    while (used.has(vendor)) vendor = `${vendor}${slug(rng)}`
    used.add(vendor)
    const packages = 1 + (v % 5)
    for (let p = 0; p < packages; p++) {
      const pkg = `vendor/${vendor}/${slug(rng)}-${p}`
      const folders = [`${pkg}/src`]
      const want = 10 + rng.int(35)
      while (folders.length < want) {
        const parent = folders[rng.int(folders.length)]
        if (parent.split('/').length > 9) continue
        const child = `${parent}/${STUDLY[rng.int(STUDLY.length)]}`
        if (!folders.includes(child)) folders.push(child)
      }
      if (rng.int(2)) folders.push(`${pkg}/tests`, `${pkg}/tests/Unit`)
      for (const meta of ['composer.json', 'README.md', 'LICENSE']) add(`${pkg}/${meta}`, 'text', 600 + rng.int(6000))
      for (let f = 0; f < 65; f++) phpFiles.push(`${folders[rng.int(folders.length)]}/${STUDLY[rng.int(STUDLY.length)]}${slug(rng).replace(/^./, (c) => c.toUpperCase())}${f}.php`)
    }
  }
  // The application itself.
  const appFolders = ['app/Http/Controllers', 'app/Http/Middleware', 'app/Http/Requests', 'app/Models', 'app/Providers', 'app/Console/Commands', 'app/Jobs', 'app/Events', 'app/Listeners', 'app/Policies', 'app/Services', 'config', 'database/migrations', 'database/seeders', 'database/factories', 'routes', 'tests/Feature', 'tests/Unit', 'lang/en']
  const appCount = Math.round(300 * scale)
  for (let f = 0; f < appCount; f++) phpFiles.push(`${appFolders[f % appFolders.length]}/${STUDLY[rng.int(STUDLY.length)]}${f}.php`)
  for (const [i, size] of sizes(phpFiles.length, Math.round(45.5 * MiB * scale), rng).entries()) add(phpFiles[i], 'php', size)
  const views = ['resources/views/layouts', 'resources/views/components', 'resources/views/pages', 'resources/views/emails', 'resources/views/admin']
  for (let f = 0; f < Math.round(60 * scale); f++) add(`${views[f % views.length]}/${slug(rng)}-${f}.blade.php`, 'text', 400 + rng.int(8000))
  for (let f = 0; f < Math.round(20 * scale); f++) add(`resources/${f % 2 ? 'js' : 'css'}/${slug(rng)}-${f}.${f % 2 ? 'js' : 'css'}`, 'text', 300 + rng.int(12000))

  // public/: random-byte images in nested folders, four big bundles, a few small files.
  const imageFolders = ['public/images/products', 'public/images/avatars', 'public/images/banners', 'public/images/icons', 'public/images/uploads/2024/01', 'public/images/uploads/2024/06', 'public/images/uploads/2025/01', 'public/images/uploads/2025/03']
  const imageExt = ['jpg', 'png', 'webp', 'gif']
  const images = Math.round(1350 * scale)
  for (const [i, size] of sizes(images, Math.round(65 * MiB * scale), rng).entries()) add(`${imageFolders[i % imageFolders.length]}/${slug(rng)}-${String(i).padStart(4, '0')}.${imageExt[i % imageExt.length]}`, 'binary', size)
  for (const [name, mib] of [['app', 5], ['vendor', 4], ['admin', 2], ['charts', 1]]) add(`public/build/assets/${name}-${(SEED + mib).toString(16)}.js`, 'text', Math.round(mib * MiB * scale))
  add('public/build/manifest.json', 'text', 900)
  add('public/index.php', 'php', 1700)
  add('public/favicon.ico', 'binary', 15086)
  add('public/robots.txt', 'text', 24)

  // The root and the folders Laravel keeps with a .gitignore in them.
  for (const [file, size] of [['artisan', 1686], ['composer.json', 2400], ['composer.lock', Math.round(300 * KiB * scale)], ['package.json', 800], ['package-lock.json', Math.round(200 * KiB * scale)], ['.env.example', 1100], ['phpunit.xml', 1200], ['vite.config.js', 400], ['README.md', 4000], ['.editorconfig', 260], ['bootstrap/app.php', 900], ['bootstrap/cache/.gitignore', 14], ['storage/app/.gitignore', 23], ['storage/framework/cache/.gitignore', 14], ['storage/framework/sessions/.gitignore', 14], ['storage/framework/views/.gitignore', 14], ['storage/logs/.gitignore', 14]]) {
    add(file, file.endsWith('.php') ? 'php' : 'text', size)
  }
  const bytes = entries.reduce((sum, entry) => sum + entry.size, 0)
  return { files: entries.length, bytes, entries, editFile: LARAVEL_EDIT_FILE }
}

/** The bytes of one file of a spec. */
function entryBytes(entry) {
  if (entry.kind === 'binary') return randomBytes(entry.size, entry.seed)
  const content = textBytes(entry.size, entry.seed)
  if (entry.kind === 'php') {
    const namespace = path.dirname(entry.path).split('/').map((part) => part.replace(/[^A-Za-z0-9]/g, '')).filter(Boolean).join('\\')
    Buffer.from(`<?php\n\nnamespace ${namespace};\n\n`).copy(content, 0, 0, Math.max(0, entry.size - 1))
  }
  return content
}

/** Makes a built tree a git checkout with one commit of a fixed author and date, as a CI workspace is. */
function commitTree(dir) {
  const when = '2025-01-01T00:00:00Z'
  const env = { ...cleanEnv(), GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.invalid', GIT_AUTHOR_DATE: when, GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.invalid', GIT_COMMITTER_DATE: when, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' }
  const git = (...args) => execFileSync('git', args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] })
  git('-c', 'init.defaultBranch=main', 'init', '-q')
  git('add', '-A')
  git('-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'Laravel-like bench tree')
}

const FIXED_TIME = new Date('2025-01-01T00:00:00Z')

/**
 * The cached tree of this kind ("laravel" or "files"), version and size, generated when missing.
 * @returns {{ dir: string, kind: string, version: string, files: number, bytes: number, folders: number, editFile: string, git: boolean, generatedMs?: number }}
 */
function ensureTree(kind, small) {
  const version = kind === 'laravel' ? LARAVEL_TREE_VERSION : TREE_VERSION
  const base = path.join(os.tmpdir(), `atomic-deploy-bench-tree-${version}-${small ? 'small' : 'full'}`)
  const dir = path.join(base, 'tree')
  const marker = path.join(base, 'complete.json')
  try {
    const info = JSON.parse(fs.readFileSync(marker, 'utf8'))
    const editFile = info.editFile || EDIT_FILE
    if (info.version === version && fs.statSync(path.join(dir, editFile)).size === EDIT_SIZE) return { dir, kind, editFile, git: false, ...info }
  } catch {
    // not there yet, or incomplete: make it
  }
  const begin = Date.now()
  const spec = kind === 'laravel' ? laravelSpec(small) : treeSpec(small)
  fs.rmSync(base, { recursive: true, force: true })
  const building = `${base}.building-${process.pid}`
  fs.rmSync(building, { recursive: true, force: true })
  const buildTree = path.join(building, 'tree')
  const folders = new Set()
  for (const entry of spec.entries) {
    const full = path.join(buildTree, entry.path)
    let parent = path.dirname(entry.path)
    while (parent !== '.' && !folders.has(parent)) {
      folders.add(parent)
      parent = path.dirname(parent)
    }
    fs.mkdirSync(path.dirname(full), { recursive: true })
    fs.writeFileSync(full, entryBytes(entry), { mode: 0o644 })
    fs.chmodSync(full, 0o644)
    fs.utimesSync(full, FIXED_TIME, FIXED_TIME)
  }
  // Folders last, deepest first, so writing files does not move their times again.
  for (const folder of [...folders].sort((a, b) => b.length - a.length)) {
    fs.chmodSync(path.join(buildTree, folder), 0o755)
    fs.utimesSync(path.join(buildTree, folder), FIXED_TIME, FIXED_TIME)
  }
  if (kind === 'laravel') commitTree(buildTree)
  fs.chmodSync(buildTree, 0o755)
  const info = { version, kind, files: spec.files, bytes: spec.bytes, folders: folders.size, editFile: spec.editFile, git: kind === 'laravel' }
  fs.writeFileSync(path.join(building, 'complete.json'), `${JSON.stringify(info)}\n`)
  fs.renameSync(building, base)
  return { dir, ...info, generatedMs: Date.now() - begin }
}

/** Counts files and bytes under a folder (as this process sees the server's copy), .git and the REVISION file that atomic-deploy and shipit write at the top left out. */
function countTree(dir) {
  let files = 0
  let bytes = 0
  const walk = (d) => {
    for (const dirent of fs.readdirSync(d, { withFileTypes: true })) {
      if (d === dir && (dirent.name === '.git' || dirent.name === 'REVISION')) continue
      const full = path.join(d, dirent.name)
      if (dirent.isDirectory()) walk(full)
      else if (dirent.isFile()) {
        files++
        bytes += fs.lstatSync(full).size
      }
    }
  }
  walk(dir)
  return { files, bytes }
}

// ---------------------------------------------------------------- machine and tools

function machineFacts() {
  const cpus = os.cpus()
  const tools = {
    node: process.version,
    tar: versionLine('tar', ['--version']),
    ssh: versionLine('ssh', ['-V']),
    zstd: which('zstd') ? `zstd ${(/v\d[\w.]*/.exec(versionLine('zstd', ['--version']) || '') || ['?'])[0]}` : 'zstd not installed',
    gzip: versionLine('gzip', ['--version']),
    rsync: which('rsync') ? (versionLine('rsync', ['--version']) || '').replace(/\s+protocol.*$/, '').replace(/\s+/g, ' ') : 'rsync not installed'
  }
  return {
    cores: cpus.length,
    model: cpus[0] ? cpus[0].model.trim() : 'unknown',
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
    tools
  }
}

/** rsync for the reference rows: installed with apt-get when missing and root. @returns {{ ok: boolean, why?: string, note?: string }} */
function ensureRsync() {
  if (which('rsync')) return { ok: true }
  if (process.getuid?.() !== 0) return { ok: false, why: 'rsync is not installed and this is not root, so it cannot be installed here (sudo apt-get install -y rsync)' }
  if (!which('apt-get')) return { ok: false, why: 'rsync is not installed and there is no apt-get to install it with' }
  say('rsync is missing: installing it with apt-get (for the reference rows)')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () => spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=120', 'install', '-y', '-q', '--no-install-recommends', 'rsync'], { env, encoding: 'utf8', timeout: 300_000 })
  let result = install()
  if (result.status !== 0) {
    say('  apt-get install failed; running apt-get update first')
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=120', 'update', '-q'], { env, encoding: 'utf8', timeout: 300_000 })
    result = install()
  }
  if (result.status !== 0 || !which('rsync')) return { ok: false, why: `rsync could not be installed with apt-get: ${tail(`${result.stdout || ''}${result.stderr || ''}`, 3)}` }
  return { ok: true, note: 'installed with apt-get by this run' }
}

// ---------------------------------------------------------------- servers

/**
 * How to reach one server: the loopback one from scripts/lib/sshd.js, or our
 * own inside the server namespace, with commands run from the client namespace.
 * @typedef {object} Target
 * @property {string} name
 * @property {string} host
 * @property {number} port
 * @property {string} username
 * @property {string} knownHostsFile
 * @property {string} root deploy roots go in here (server's view = ours, one filesystem)
 * @property {() => string} log
 * @property {(command: string, args: string[]) => [string, string[]]} wrap
 */

/**
 * Temporary folders of an earlier bench that was killed outright (SIGKILL):
 * <prefix><pid>-XXXXXX with that pid gone. An sshd still running from one
 * (its sshd.pid inside, and its command line still sshd's) is stopped first.
 */
function removeStaleFolders(parent, prefix) {
  let names
  try {
    names = fs.readdirSync(parent)
  } catch {
    return
  }
  for (const name of names) {
    const match = new RegExp(`^${prefix}(\\d+)-`).exec(name)
    if (!match || pidAlive(Number(match[1]))) continue
    const dir = path.join(parent, name)
    try {
      for (const entry of fs.readdirSync(dir)) {
        const pidFile = path.join(dir, entry, 'sshd.pid')
        if (!fs.existsSync(pidFile)) continue
        const pid = Number(fs.readFileSync(pidFile, 'utf8').trim())
        const cmdline = pid > 0 ? fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') : ''
        if (cmdline.includes('sshd') && cmdline.includes(dir)) tryKill(pid, 'SIGTERM')
      }
    } catch {
      // no such process, or not ours
    }
    fs.rmSync(dir, { recursive: true, force: true })
    say(`removed a folder left by an earlier bench run: ${dir}`)
  }
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return error.code !== 'ESRCH'
  }
}

/** Removes stale namespaces left by an earlier bench that was killed outright (ours only: adbench-<pid>-[cs] with that pid gone). */
function removeStaleNamespaces() {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
  if (list.status !== 0) return
  for (const line of list.stdout.split('\n')) {
    const match = /^(adbench-(\d+)-[cs])\b/.exec(line.trim())
    if (!match) continue
    if (!pidAlive(Number(match[2]))) {
      spawnSync('ip', ['netns', 'del', match[1]], { stdio: 'ignore' })
      say(`removed a namespace left by an earlier bench run: ${match[1]}`)
    }
  }
}

/**
 * Two namespaces of our own joined by a veth pair shaped to 100 Mbit/s each
 * way; an sshd inside the server namespace. Returns a Target, or the reason it
 * is not possible here.
 * @returns {Promise<{ target?: Target, why?: string, facts?: string }>}
 */
async function startSlowLink(workdir, userKeyFile) {
  if (process.getuid?.() !== 0) return { why: 'not root: creating network namespaces needs root' }
  for (const tool of ['ip', 'tc']) if (!which(tool)) return { why: `${tool} is not installed (iproute2)` }
  removeStaleNamespaces()
  const pid = process.pid
  const client = `adbench-${pid}-c`
  const server = `adbench-${pid}-s`
  const vethClient = `adb${pid}c`
  const vethServer = `adb${pid}s`
  const subnet = `10.200.${pid % 256}`
  const clientAddr = `${subnet}.1`
  const serverAddr = `${subnet}.2`
  const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  try {
    ip('netns', 'add', client)
    state.namespaces.push(client)
    ip('netns', 'add', server)
    state.namespaces.push(server)
    ip('link', 'add', vethClient, 'netns', client, 'type', 'veth', 'peer', 'name', vethServer, 'netns', server)
    ip('-n', client, 'addr', 'add', `${clientAddr}/30`, 'dev', vethClient)
    ip('-n', server, 'addr', 'add', `${serverAddr}/30`, 'dev', vethServer)
    for (const [ns, dev] of [[client, vethClient], [server, vethServer]]) {
      ip('-n', ns, 'link', 'set', 'lo', 'up')
      ip('-n', ns, 'link', 'set', dev, 'up')
      ip('netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', SLOW_RATE, 'burst', '256kb', 'latency', '50ms')
    }
  } catch (error) {
    deleteNamespaces()
    const detail = error.stderr ? error.stderr.toString().trim() : error.message
    return { why: `could not set up the namespaces, veth pair and tc tbf: ${detail}` }
  }

  // sshd inside the server namespace, listening on its end of the veth pair.
  let sshdServer
  try {
    sshdServer = await sshd.startSshd({ namespace: server, listenAddress: serverAddr, port: 2222, parentDir: workdir, userKeyFile })
  } catch (error) {
    return { why: `sshd in the namespace did not start: ${tail(error.message, 4)}` }
  }
  state.servers.push({ stop: sshdServer.stop, pid: sshdServer.pid })
  let relay
  try {
    relay = await startRelayIn(client, serverAddr, sshdServer.port)
  } catch (error) {
    return { why: `the delay relay in the client namespace did not start: ${error.message}` }
  }
  state.servers.push(relay)
  const knownHostsFile = path.join(sshdServer.dir, 'known_hosts')
  fs.writeFileSync(knownHostsFile, sshdServer.knownHosts.split(`[${serverAddr}]:${sshdServer.port} `).join(`[127.0.0.1]:${relay.port} `))
  return {
    target: {
      name: `slowed link (${SLOW_RATE.replace('mbit', ' Mbit/s')}, ${2 * SLOW_DELAY_MS} ms round trip)`,
      host: '127.0.0.1',
      port: relay.port,
      username: sshdServer.username,
      knownHostsFile,
      root: sshdServer.root,
      log: sshdServer.log,
      wrap: (command, args) => ['ip', ['netns', 'exec', client, command, ...args]]
    },
    facts: `namespaces ${client} and ${server}, veth ${vethClient} ${clientAddr}/30 <-> ${vethServer} ${serverAddr}/30, tc tbf rate ${SLOW_RATE} burst 256kb latency 50ms on both ends; every tool connects through a relay in the client namespace (scripts/lib/delay-relay.js) that holds each direction ${SLOW_DELAY_MS} ms, for a ${2 * SLOW_DELAY_MS} ms round trip`
  }
}

/** scripts/lib/delay-relay.js inside a namespace, relaying to host:port; resolves once it prints the port it listens on (127.0.0.1 there). */
function startRelayIn(namespace, host, port) {
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, path.join(__dirname, 'lib/delay-relay.js'), `${host}:${port}`, String(SLOW_DELAY_MS)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  return withTimeout(
    new Promise((resolve, reject) => {
      let out = ''
      let err = ''
      child.stdout.on('data', (data) => {
        out += data
        const match = /^(\d+)\n/.exec(out)
        if (match) resolve({ port: Number(match[1]), pid: child.pid, stop })
      })
      child.stderr.on('data', (data) => (err += data))
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${tail(err, 3)}`)))
    }),
    10000
  ).catch((error) => {
    child.kill('SIGKILL')
    throw error
  })
}

// ---------------------------------------------------------------- the commands we time

const ctx = {
  /** @type {string} */ workspace: '',
  /** @type {string} */ keyFile: '',
  /** @type {string} */ preload: '',
  counter: 0,
  edits: 0
}

function sshOptions(target) {
  return [
    '-F', 'none',
    '-i', ctx.keyFile,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', `UserKnownHostsFile=${target.knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'LogLevel=ERROR',
    '-p', String(target.port)
  ]
}

/**
 * A fresh deploy root. Each is kept until the end of the bench (cleanup removes the
 * server folder holding every root), never removed between rows: on ext4
 * without a journal, making a file right after many were deleted is several
 * times slower (the kernel skips each inode freed in the last minutes, reading
 * its inode table block), so a row that followed the removal of the rows
 * before it paid for their trees. Here a 20k-entry unpack took 0.5 s on a
 * quiet disk and 12 s right after a removal of a tree of the same size.
 */
function newRoot(target, label) {
  ctx.counter += 1
  return path.join(target.root, `${label}-${ctx.counter}`)
}

/** Waits until sshd's log has been quiet for 100 ms (2 s at most), so the lines of the command that just ended are all in. */
async function settleLog(target) {
  const deadline = Date.now() + 2000
  let last = target.log().length
  while (Date.now() < deadline) {
    await sleep(100)
    const length = target.log().length
    if (length === last) return
    last = length
  }
}

/**
 * One `atomic-deploy deploy --json` of the workspace.
 * @returns {Promise<{ ms: number, bytesUploaded: number, compression: string, rssKiB: number | undefined, connections: number, json: any, stderr: string }>}
 */
async function deploy(target, deployPath, options = {}) {
  ctx.counter += 1
  const releaseId = `bench-${ctx.counter}`
  const rssFile = path.join(path.dirname(ctx.preload), `rss-${ctx.counter}`)
  const args = [
    '-r', ctx.preload, CLI, 'deploy', '--json',
    '--host', `${target.host}:${target.port}`,
    '--username', target.username,
    '--ssh-key-file', ctx.keyFile,
    '--known-hosts-file', target.knownHostsFile,
    '--path', deployPath,
    '--source', ctx.workspace,
    '--release-id', releaseId,
    '--compression', options.compression || 'auto',
    '--incremental', String(options.incremental !== false),
    '--hardlink-releases', String(Boolean(options.hardlink))
  ]
  const logStart = target.log().length
  const [command, commandArgs] = target.wrap(process.execPath, args)
  const result = await run(command, commandArgs, { cwd: REPO, env: cleanEnv({ BENCH_MAXRSS_FILE: rssFile }) })
  if (result.code !== 0) throw new Error(`atomic-deploy exited ${result.code ?? result.signal}:\n${tail(result.stderr)}`)
  let json
  try {
    json = JSON.parse(result.stdout)
  } catch {
    throw new Error(`atomic-deploy --json printed something that is not JSON: ${tail(result.stdout, 4)}`)
  }
  const first = json.results && json.results[0]
  if (!first || first.status !== 'deployed') throw new Error(`atomic-deploy reported ${first ? first.status : 'no result'}: ${first && first.error}`)
  const current = fs.readlinkSync(path.join(deployPath, 'current'))
  if (current !== `releases/${releaseId}`) throw new Error(`current points to ${current}, expected releases/${releaseId}`)
  await settleLog(target)
  const connections = (target.log().slice(logStart).match(/Connection from /g) || []).length
  let rssKiB
  try {
    rssKiB = Number(fs.readFileSync(rssFile, 'utf8').trim())
  } catch {
    rssKiB = undefined
  }
  return {
    ms: result.ms,
    phases: phasesOf(result.lines, result.ms),
    bytesUploaded: first.bytesUploaded,
    compression: (json.deploy && json.deploy.compression) || '?',
    rssKiB,
    connections,
    json,
    stderr: result.stderr,
    releasePath: path.join(deployPath, 'releases', releaseId)
  }
}

/**
 * Where a deploy's time went, from when the CLI's own log lines arrived (its
 * stderr is a pipe, which Node writes synchronously). Undefined when a marker
 * is missing (the CLI's wording changed).
 */
const PHASES = [
  ['start', 'node start-up and listing the tree, until "Uploading N entries"', /^Uploading \d+ entries/],
  ['connect', 'SSH connect, the hashing of the workspace beside it, until "== Preparing release"', /^== Preparing release/],
  ['plan', 'probe tools and read the server cache while the hashing ends, diff, until "full upload" or "incremental upload"', /^\s*(full|incremental) upload/],
  ['upload', 'lock, stream, unpack, build the release, update the cache, until "Moving the complete upload"', /Moving the complete upload/],
  ['finish', 'shared, switch, prune, disconnect, until exit', undefined]
]
function phasesOf(lines, total) {
  const out = {}
  let previous = 0
  for (const [key, , marker] of PHASES) {
    const at = marker ? lines.find((line) => marker.test(line.text))?.ms : total
    if (at === undefined || at < previous) return undefined
    out[key] = at - previous
    previous = at
  }
  return out
}

/** `tar czf - . | ssh host 'mkdir -p dir && tar xzf - -C dir'`, from the workspace (.git left out, as atomic-deploy does). */
async function pipeline(target, dir) {
  const remote = `mkdir -p '${dir}' && tar xzf - -C '${dir}'`
  const script = 'set -o pipefail; tar czf - --exclude=./.git . | ssh "${@:2}" "$1"'
  const [command, args] = target.wrap('bash', ['-c', script, 'bash', remote, ...sshOptions(target), `${target.username}@${target.host}`])
  const result = await run(command, args, { cwd: ctx.workspace })
  await settleLog(target)
  if (result.code !== 0) throw new Error(`tar | ssh exited ${result.code ?? result.signal}: ${tail(result.stderr, 4)}`)
  return { ms: result.ms }
}

/** rsync -a --delete of the workspace into one folder (.git left out): not atomic, the reference for speed. */
async function rsync(target, dir) {
  const sshCommand = ['ssh', ...sshOptions(target)]
  if (sshCommand.some((word) => /\s/.test(word))) throw new Error('a path with white space cannot go into rsync -e')
  const [command, args] = target.wrap('rsync', ['-a', '--delete', '--exclude=/.git', '-e', sshCommand.join(' '), './', `${target.username}@${target.host}:${dir}/`])
  const result = await run(command, args, { cwd: ctx.workspace })
  await settleLog(target)
  if (result.code !== 0) throw new Error(`rsync exited ${result.code ?? result.signal}: ${tail(result.stderr, 4)}`)
  return { ms: result.ms }
}

/** Edits the tree's 10 KiB text file in the workspace (new content, same size). It is a hard link to the cached tree: unlink first. */
function editFile() {
  ctx.edits += 1
  const file = path.join(ctx.workspace, ctx.tree.editFile)
  const content = textBytes(EDIT_SIZE, (SEED + 0x1000 + ctx.edits) >>> 0)
  const header = Buffer.from(`// bench edit ${ctx.edits}\n`)
  header.copy(content, 0)
  fs.rmSync(file)
  fs.writeFileSync(file, content, { mode: 0o644 })
  return content
}

// ---------------------------------------------------------------- shipit-deploy

/**
 * Installs shipit-cli and shipit-deploy into <workdir>/shipit with npm, and
 * writes the shipitfile the bench runs (its settings come from
 * BENCH_SHIPIT_CONFIG, JSON). Never fails: a reason instead.
 * @returns {{ ok: boolean, dir?: string, version?: string, why?: string }}
 */
function installShipit(workdir) {
  const npm = which('npm')
  if (!npm) return { ok: false, why: 'npm is not installed' }
  if (!which('rsync')) return { ok: false, why: 'rsync is not installed (shipit-deploy copies with it)' }
  const dir = path.join(workdir, 'shipit')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "private": true, "description": "written by scripts/bench.js" }\n')
  say('installing shipit-cli and shipit-deploy for the shipit rows (npm install, into the work folder)')
  const result = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--no-save', '--loglevel=error', 'shipit-cli', 'shipit-deploy'], { cwd: dir, encoding: 'utf8', timeout: 300_000, env: cleanEnv() })
  if (result.status !== 0) return { ok: false, why: `npm install failed (${result.error ? result.error.message : `exit ${result.status}`}): ${tail(`${result.stdout || ''}${result.stderr || ''}`, 2).replace(/\s+/g, ' ')}` }
  let version
  try {
    const read = (name) => JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8')).version
    version = `shipit-cli ${read('shipit-cli')}, shipit-deploy ${read('shipit-deploy')}`
  } catch (error) {
    return { ok: false, why: `npm install left no shipit-cli or shipit-deploy: ${error.message}` }
  }
  fs.writeFileSync(
    path.join(dir, 'shipitfile.js'),
    [
      "'use strict'",
      '// Written by scripts/bench.js: deploys the local workspace (no repositoryUrl, so no git fetch).',
      'module.exports = (shipit) => {',
      "  require('shipit-deploy')(shipit)",
      '  const bench = JSON.parse(process.env.BENCH_SHIPIT_CONFIG)',
      '  shipit.initConfig({',
      '    default: {',
      '      workspace: bench.workspace,',
      '      keepWorkspace: true,',
      '      shallowClone: false,',
      "      branch: 'HEAD',",
      '      deployTo: bench.deployTo,',
      "      ignores: ['.git'],",
      '      keepReleases: 2,',
      '      key: bench.key,',
      "      strict: 'yes'",
      '    },',
      '    bench: { servers: [bench.server] }',
      '  })',
      '}',
      ''
    ].join('\n')
  )
  return { ok: true, dir, version }
}

/** One `shipit bench deploy` of the workspace into deployTo; returns its wall time. */
async function shipitDeploy(target, deployTo) {
  // Release folders are named by the UTC second: never start two in the same one.
  await sleep(1000 - (Date.now() % 1000) + 20)
  const config = {
    workspace: ctx.workspace,
    deployTo,
    key: ctx.keyFile,
    server: {
      user: target.username,
      host: target.host,
      port: target.port,
      extraSshOptions: { IdentitiesOnly: 'yes', BatchMode: 'yes', UserKnownHostsFile: target.knownHostsFile, GlobalKnownHostsFile: '/dev/null', LogLevel: 'ERROR' }
    }
  }
  const bin = path.join(ctx.shipit.dir, 'node_modules', 'shipit-cli', 'bin', 'shipit')
  const [command, args] = target.wrap(process.execPath, [bin, 'bench', 'deploy', '--shipitfile', path.join(ctx.shipit.dir, 'shipitfile.js')])
  const result = await run(command, args, { cwd: ctx.shipit.dir, env: cleanEnv({ BENCH_SHIPIT_CONFIG: JSON.stringify(config), FORCE_COLOR: '0' }) })
  await settleLog(target)
  if (result.code !== 0) throw new Error(`shipit exited ${result.code ?? result.signal}: ${tail(`${result.stdout}\n${result.stderr}`, 6)}`)
  return { ms: result.ms }
}

/** shipit-deploy: a full deploy into a fresh root, then a one-file change into the same root, both checked. */
async function shipitRows(prefix, target, keys) {
  const root = newRoot(target, 'shipit')
  const full = await timed(prefix, keys.full, 'shipit-deploy, full', async () => {
    const sample = await shipitDeploy(target, root)
    const counted = countTree(path.join(root, 'current'))
    if (counted.files !== ctx.tree.files || counted.bytes !== ctx.tree.bytes) throw new Error(`shipit's release holds ${counted.files} files / ${counted.bytes} B, the tree ${ctx.tree.files} / ${ctx.tree.bytes}`)
    return sample
  })
  if (!full) return
  await timed(prefix, keys.change, 'shipit-deploy, one-file change', async () => {
    const content = editFile()
    const sample = await shipitDeploy(target, root)
    if (!fs.readFileSync(path.join(root, 'current', ctx.tree.editFile)).equals(content)) throw new Error('after the one-file change, shipit\'s current/ does not hold the edited file')
    return sample
  })
}

// ---------------------------------------------------------------- scenarios

/**
 * Results by scenario key: every run's numbers, or the error that stopped it.
 * @type {Map<string, { label: string, runs: Array<Record<string, any>>, errors: string[] }>}
 */
const results = new Map()

function record(key, label, sample) {
  if (!results.has(key)) results.set(key, { label, runs: [], errors: [] })
  results.get(key).runs.push(sample)
}

function recordError(key, label, error) {
  if (!results.has(key)) results.set(key, { label, runs: [], errors: [] })
  const message = error instanceof Error ? error.message : String(error)
  results.get(key).errors.push(message)
  say(`  ! ${label}: ${message.split('\n').join('\n    ')}`)
}

function progress(prefix, label, sample) {
  const parts = [fmtS(sample.ms)]
  if (sample.bytesUploaded !== undefined) parts.push(`${fmtBytes(sample.bytesUploaded)} sent`)
  if (sample.compression) parts.push(sample.compression)
  if (sample.connections !== undefined) parts.push(`${sample.connections} SSH connection${sample.connections === 1 ? '' : 's'}`)
  if (sample.rssKiB) parts.push(`max RSS ${(sample.rssKiB / 1024).toFixed(0)} MiB`)
  say(`  ${prefix} ${label.padEnd(44)} ${parts.join(', ')}`)
}

/** A full deploy into a fresh root, then (optionally) a one-file change into the same root. */
async function fullAndChange(prefix, target, keys, options) {
  const root = newRoot(target, keys.full)
  try {
    let full
    try {
      full = await deploy(target, root, options)
      const counted = countTree(full.releasePath)
      if (counted.files !== ctx.tree.files || counted.bytes !== ctx.tree.bytes) {
        throw new Error(`the release holds ${counted.files} files / ${counted.bytes} B, the tree ${ctx.tree.files} / ${ctx.tree.bytes}`)
      }
      record(keys.full, keys.fullLabel, full)
      progress(prefix, keys.fullLabel, full)
    } catch (error) {
      recordError(keys.full, keys.fullLabel, error)
      return
    }
    if (!keys.change) return
    try {
      // As a deploy minutes after the last one finds it: the server's background
      // work of the full deploy (the spare copy of the upload cache) is over.
      await sshd.settleSpareCopies(root, { ms: 120_000, depth: 0 })
      const content = editFile()
      const change = await deploy(target, root, options)
      const served = fs.readFileSync(path.join(root, 'current', ctx.tree.editFile))
      if (!served.equals(content)) throw new Error('after the one-file change, current/ does not hold the edited file')
      record(keys.change, keys.changeLabel, change)
      progress(prefix, keys.changeLabel, change)
    } catch (error) {
      recordError(keys.change, keys.changeLabel, error)
    }
  } finally {
    // Waited for, not stopped: a stopped copy removes what it made, and no copy runs into the next row.
    await sshd.settleSpareCopies(root, { ms: 120_000, depth: 0 })
  }
}

async function timed(prefix, key, label, fn) {
  try {
    const sample = await fn()
    record(key, label, sample)
    progress(prefix, label, sample)
    return true
  } catch (error) {
    recordError(key, label, error)
    return false
  }
}

async function pipelineRow(prefix, target, key) {
  await timed(prefix, key, 'tar czf | ssh tar xzf (pipeline)', async () => {
    return pipeline(target, newRoot(target, 'pipeline'))
  })
}

/** atomic-deploy with its defaults, then with hardlink-releases: a full deploy and a one-file change each. */
async function atomicDeployRows(prefix, target, key) {
  await fullAndChange(prefix, target, {
    full: key('full.auto'), fullLabel: 'full deploy, defaults (compression auto)',
    change: key('change'), changeLabel: 'one-file change, defaults (incremental)'
  }, {})
  await fullAndChange(prefix, target, {
    full: key('full.hardlink'), fullLabel: 'full deploy, hardlink-releases',
    change: key('change.hardlink'), changeLabel: 'one-file change, hardlink-releases'
  }, { hardlink: true })
}

/** rsync -a --delete into one folder: full, then the one-file change. */
async function rsyncRows(prefix, target, keys) {
  const dir = newRoot(target, 'rsync')
  const full = await timed(prefix, keys.full, 'rsync -a --delete, full', () => rsync(target, dir))
  if (!full) return
  await timed(prefix, keys.change, 'rsync -a --delete, one-file change', async () => {
    const content = editFile()
    const sample = await rsync(target, dir)
    if (!fs.readFileSync(path.join(dir, ctx.tree.editFile)).equals(content)) throw new Error('after the one-file change, the rsync copy does not hold the edited file')
    return sample
  })
}

/** One loopback round, every tool side by side: pipeline, rsync, shipit-deploy, atomic-deploy defaults, then atomic-deploy variants. */
async function loopbackRun(prefix, target, haveRsync) {
  const lb = (key) => `lb.${key}`
  await pipelineRow(prefix, target, lb('pipeline'))
  if (haveRsync) await rsyncRows(prefix, target, { full: lb('rsync.full'), change: lb('rsync.change') })
  // shipit writes `git rev-parse HEAD` into REVISION: it needs a checkout, which only the laravel tree is.
  if (ctx.shipit.ok && ctx.tree.git) await shipitRows(prefix, target, { full: lb('shipit.full'), change: lb('shipit.change') })
  await atomicDeployRows(prefix, target, lb)
  for (const compression of ['zstd', 'gzip', 'none']) {
    await fullAndChange(prefix, target, { full: lb(`full.${compression}`), fullLabel: `full deploy, compression ${compression}` }, { compression })
  }
}

/** One round over the slowed link: the pipeline, rsync, then atomic-deploy's full and one-file deploys, plain and with hard links. */
async function slowRun(prefix, target, haveRsync) {
  const sl = (key) => `sl.${key}`
  await pipelineRow(prefix, target, sl('pipeline'))
  if (haveRsync) await rsyncRows(prefix, target, { full: sl('rsync.full'), change: sl('rsync.change') })
  await atomicDeployRows(prefix, target, sl)
}

/** Throughput of the slowed link through ssh (cat >/dev/null), handshake included. */
async function measureLink(target) {
  const bytes = 12 * MiB
  const [command, args] = target.wrap('ssh', [...sshOptions(target), `${target.username}@${target.host}`, 'cat >/dev/null'])
  const result = await run(command, args, { input: randomBytes(bytes, SEED ^ 0x11), env: cleanEnv() })
  await settleLog(target)
  if (result.code !== 0) throw new Error(`ssh cat exited ${result.code}: ${tail(result.stderr, 3)}`)
  return (bytes * 8) / (result.ms / 1000) / 1e6
}

// ---------------------------------------------------------------- the report

function stat(key, field = 'ms') {
  const entry = results.get(key)
  if (!entry || entry.runs.length === 0) return undefined
  return median(entry.runs.map((run) => run[field]))
}

function runsText(key) {
  const entry = results.get(key)
  if (!entry) return ''
  const values = entry.runs.map((run) => (run.ms / 1000).toFixed(2))
  if (entry.errors.length) values.push(`${entry.errors.length} failed`)
  return values.join(' / ')
}

/** One table row per scenario. @param {Array<[string, string, string, string]>} rows key, label, ratio text, target text */
function table(prefix, rows) {
  const lines = [
    '| scenario | median | runs (s) | sent on the wire | peak RSS | SSH conn. | ratio | target |',
    '|---|---:|---|---:|---:|---:|---|---|'
  ]
  for (const [key, label, ratio, target] of rows) {
    const entry = results.get(`${prefix}.${key}`)
    if (!entry) continue
    const ms = stat(`${prefix}.${key}`)
    const sent = stat(`${prefix}.${key}`, 'bytesUploaded')
    const rss = entry.runs.some((run) => run.rssKiB) ? Math.max(...entry.runs.map((run) => run.rssKiB || 0)) : undefined
    const conns = entry.runs.some((run) => run.connections !== undefined) ? [...new Set(entry.runs.map((run) => run.connections))].join(', ') : ''
    const compression = entry.runs.find((run) => run.compression)?.compression
    const name = compression && /auto/.test(label) ? `${label} (picked ${compression})` : label
    lines.push(
      `| ${name} | ${ms === undefined ? `not available: ${entry.errors[0].split('\n')[0].slice(0, 160).replace(/\|/g, '\\|')}` : fmtS(ms)} | ${runsText(`${prefix}.${key}`)} | ${sent === undefined ? '' : fmtBytes(sent)} | ${rss === undefined ? '' : `${(rss / 1024).toFixed(0)} MiB`} | ${conns} | ${ratio || ''} | ${target || ''} |`
    )
  }
  return lines.join('\n')
}

/** Target checks: [description, measured text, met?]. */
const verdicts = []
function verdict(what, measured, met, shortBy) {
  verdicts.push({ what, measured, met, shortBy })
  return `${met ? 'met' : `**not met**${shortBy ? ` (${shortBy})` : ''}`}`
}

function ratioCell(numKey, denKey, denName) {
  const num = stat(numKey)
  const den = stat(denKey)
  if (num === undefined || den === undefined) return { text: '', ratio: undefined }
  const ratio = num / den
  return { text: `${fmtX(ratio)} ${denName}`, ratio }
}

/** Medians of each deploy phase, one column per scenario. */
function phaseReport(columns) {
  const present = columns.filter(([key]) => (results.get(key)?.runs || []).some((run) => run.phases))
  if (!present.length) return undefined
  const phaseMedian = (key, phase) => {
    const values = results.get(key).runs.filter((run) => run.phases).map((run) => run.phases[phase])
    return values.length ? median(values) : undefined
  }
  const lines = [`| phase | ${present.map(([, label]) => label).join(' | ')} |`, `|---|${present.map(() => '---:').join('|')}|`]
  for (const [phase, label] of PHASES) {
    lines.push(`| ${label} | ${present.map(([key]) => fmtS(phaseMedian(key, phase) ?? NaN)).join(' | ')} |`)
  }
  return lines.join('\n')
}

/** A verdict on `num / den <= limit`, or why there is none. */
function ratioVerdict(what, numKey, denKey, limit) {
  const cell = ratioCell(numKey, denKey, '')
  if (cell.ratio === undefined) {
    const missing = [numKey, denKey].filter((key) => stat(key) === undefined).map((key) => results.get(key)?.label || key)
    verdicts.push({ what, measured: `not measured (${missing.join(', ')} missing)`, met: undefined })
    return
  }
  verdict(what, `${fmtX(cell.ratio)} (${fmtS(stat(numKey))} / ${fmtS(stat(denKey))})`, cell.ratio <= limit, `${fmtX(cell.ratio / limit)} the limit`)
}

function buildReport(context) {
  const { facts, tree, runs, slow, rsyncStatus, slowWhy, linkMbit, elapsedMs, serverFs, tmpfs, shipit } = context
  const where = tmpfs ? `TMPFS (${serverFs}): not a disk, copying is nearly free here` : serverFs
  const out = []
  out.push(`## atomic-deploy benchmark: ${tree.kind} tree, deploy roots on ${where}`)
  out.push('')
  out.push(`- Machine: ${facts.cores} cores (${facts.model}), ${facts.memory} RAM, ${facts.kernel}; load average at start ${facts.load} (1, 5, 15 min; shared machine).`)
  out.push(`- Tools: Node ${facts.tools.node}; ${facts.tools.tar}; ${facts.tools.ssh}; ${facts.tools.zstd}; ${facts.tools.gzip}; ${facts.tools.rsync}; ${shipit.ok ? shipit.version : 'shipit-deploy not available'}.`)
  const treeText = tree.kind === 'laravel'
    ? `Laravel-like git checkout (PHP-like sources under vendor/, random-byte images under public/images/, JS bundles under public/build/; .git left out by every tool)`
    : 'half random bytes from a seeded PRNG, half text'
  out.push(`- Tree: ${tree.files.toLocaleString('en-US')} files in ${tree.folders.toLocaleString('en-US')} folders (${(tree.files + tree.folders).toLocaleString('en-US')} entries), ${fmtBytes(tree.bytes)} (${(tree.bytes / 1e6).toFixed(1)} MB), ${treeText}, version ${tree.version}. One-file change: \`${tree.editFile}\`, ${EDIT_SIZE.toLocaleString('en-US')} B.`)
  out.push(`- Server side: the same machine; deploy roots on ${where}. Client: the cached tree, hard-linked into a workspace.`)
  out.push(`- ${runs} run${runs === 1 ? '' : 's'} per scenario, every tool in each run; medians. Times are the wall clock of the whole command (process start, SSH handshake, transfer, server-side work). Every full deploy goes to a fresh deploy root; the one-file change follows it into the same root (atomic-deploy's once the server's background copy after the full deploy is done, as for a deploy minutes later). No root is removed before the end of the bench: on ext4 without a journal, files made right after many were deleted are made several times slower, and each row would pay for the trees of the rows before it.`)
  out.push('')

  // Loopback
  out.push(`### Loopback (127.0.0.1), deploy roots on ${where}`)
  out.push('')
  const changeTarget = '≤ 2.00x rsync one-file, ≤ 0.30x shipit one-file'
  const rows = [
    ['pipeline', 'tar czf - . \\| ssh \'tar xzf -\' (the plain pipeline; a change is another full copy)', '1.00x', ''],
    ['rsync.full', 'rsync -a --delete into one folder, full (not atomic)', ratioCell('lb.rsync.full', 'lb.pipeline', 'pipeline').text, ''],
    ['rsync.change', 'rsync -a --delete into one folder, one-file change', '', ''],
    ['shipit.full', 'shipit-deploy, full', ratioCell('lb.shipit.full', 'lb.pipeline', 'pipeline').text, ''],
    ['shipit.change', 'shipit-deploy, one-file change (cp -a previous + rsync)', '', ''],
    ['full.auto', 'atomic-deploy defaults, full', ratioCell('lb.full.auto', 'lb.pipeline', 'pipeline').text, ''],
    ['change', 'atomic-deploy defaults, one-file change', ratioCell('lb.change', 'lb.rsync.change', 'rsync one-file').text, changeTarget],
    ['full.hardlink', 'atomic-deploy full, hardlink-releases', ratioCell('lb.full.hardlink', 'lb.pipeline', 'pipeline').text, ''],
    ['change.hardlink', 'atomic-deploy one-file change, hardlink-releases', ratioCell('lb.change.hardlink', 'lb.rsync.change', 'rsync one-file').text, ''],
    ['full.zstd', 'atomic-deploy full, compression zstd', ratioCell('lb.full.zstd', 'lb.pipeline', 'pipeline').text, ''],
    ['full.gzip', 'atomic-deploy full, compression gzip', ratioCell('lb.full.gzip', 'lb.pipeline', 'pipeline').text, ''],
    ['full.none', 'atomic-deploy full, compression none', ratioCell('lb.full.none', 'lb.pipeline', 'pipeline').text, '']
  ]
  out.push(table('lb', rows))
  if (!rsyncStatus.ok) out.push(`| rsync -a --delete | not available: ${rsyncStatus.why} | | | | | | |`)
  if (!shipit.ok) out.push(`| shipit-deploy, full and one-file change | not available: ${shipit.why} | | | | | | |`)
  else if (!tree.git) out.push('| shipit-deploy, full and one-file change | not available: this tree is not a git checkout (shipit writes `git rev-parse HEAD` into REVISION); --tree laravel has it | | | | | | |')
  out.push('')
  if (rsyncStatus.note) out.push(`rsync ${rsyncStatus.note}.`)

  // Issue 17's targets, one verdict line each.
  ratioVerdict('full deploy ≤ 0.5x tar czf | ssh tar xzf (loopback)', 'lb.full.auto', 'lb.pipeline', 0.5)
  ratioVerdict('full deploy ≤ 1.0x rsync full (loopback)', 'lb.full.auto', 'lb.rsync.full', 1)
  ratioVerdict('one-file change ≤ 2x rsync one-file change (loopback)', 'lb.change', 'lb.rsync.change', 2)
  ratioVerdict('one-file change ≤ 0.3x shipit-deploy one-file change (loopback)', 'lb.change', 'lb.shipit.change', 0.3)
  out.push(`Issue 17 targets (atomic-deploy defaults; ${tree.kind} tree; deploy roots on ${where}):`)
  out.push('')
  for (const v of verdicts.slice(-4)) out.push(`- ${v.met === undefined ? 'NOT MEASURED' : v.met ? 'MET' : 'NOT MET'}: ${v.what}: measured ${v.measured}`)
  out.push('')

  // Bytes and connections
  const changeRuns = [...(results.get('lb.change')?.runs || []), ...(results.get('lb.change.hardlink')?.runs || []), ...(results.get('sl.change')?.runs || []), ...(results.get('sl.change.hardlink')?.runs || [])]
  const limit = EDIT_SIZE + 64 * KiB
  if (changeRuns.length) {
    const most = Math.max(...changeRuns.map((run) => run.bytesUploaded))
    const text = `${most.toLocaleString('en-US')} B sent at most (file ${EDIT_SIZE.toLocaleString('en-US')} B; limit file + 64 KiB = ${limit.toLocaleString('en-US')} B)`
    out.push(`- Bytes for a one-file change (results[0].bytesUploaded, ${changeRuns.length} deploys): ${text}: ${verdict('bytes for a one-file change ≤ file size + 64 KiB', text, most <= limit, `${(most - limit).toLocaleString('en-US')} B over`)}.`)
  }
  const allDeploys = [...results.values()].flatMap((entry) => entry.runs).filter((run) => run.connections !== undefined)
  if (allDeploys.length) {
    const counts = allDeploys.map((run) => run.connections)
    const most = Math.max(...counts)
    const text = `${allDeploys.length} deploys, connections per deploy: ${[...new Set(counts)].sort((a, b) => a - b).join(', ')} ("Connection from" lines in sshd's log)`
    out.push(`- One SSH connection per host per deploy: ${text}: ${verdict('one SSH connection per host per deploy', text, most === 1 && Math.min(...counts) === 1, `up to ${most}`)}.`)
  }
  const rssRuns = (results.get('lb.full.auto')?.runs || []).filter((run) => run.rssKiB)
  if (rssRuns.length) {
    out.push(`- Peak memory of the deploy process (node, maxRSS) for the full deploy: median ${(median(rssRuns.map((run) => run.rssKiB)) / 1024).toFixed(0)} MiB, highest ${(Math.max(...rssRuns.map((run) => run.rssKiB)) / 1024).toFixed(0)} MiB (tar and zstd/gzip are child processes, not counted).`)
  }
  out.push('')
  const phaseTable = phaseReport([
    ['lb.full.auto', 'full, loopback'],
    ['lb.change', 'one-file, loopback'],
    ['lb.change.hardlink', 'one-file hardlink, loopback'],
    ['sl.full.auto', 'full, slowed'],
    ['sl.change', 'one-file, slowed']
  ])
  if (phaseTable) {
    out.push('Where a deploy\'s time goes (medians, from when the CLI\'s log lines arrived):')
    out.push('')
    out.push(phaseTable)
    out.push('')
  }

  // Slowed link
  out.push(`### Link slowed to 100 Mbit/s with a ${2 * SLOW_DELAY_MS} ms round trip (network namespaces, veth, tc tbf, a delay relay), deploy roots on ${where}`)
  out.push('')
  if (!slow) {
    out.push(`Skipped: ${slowWhy}.`)
  } else {
    out.push(`${slow}; measured ${linkMbit ? `${linkMbit.toFixed(0)} Mbit/s` : 'n/a'} through ssh (12 MiB of random bytes into cat, handshake included).`)
    out.push('')
    const slFull = ratioCell('sl.full.auto', 'sl.pipeline', 'pipeline')
    out.push(
      table('sl', [
        ['pipeline', 'tar czf - . \\| ssh \'tar xzf -\' (the plain pipeline)', '1.00x', ''],
        ['rsync.full', 'rsync -a --delete into one folder, full (not atomic)', ratioCell('sl.rsync.full', 'sl.pipeline', 'pipeline').text, ''],
        ['rsync.change', 'rsync -a --delete into one folder, one-file change', '', ''],
        ['full.auto', 'atomic-deploy defaults, full', slFull.text, ''],
        ['change', 'atomic-deploy defaults, one-file change', ratioCell('sl.change', 'sl.rsync.change', 'rsync one-file').text, '≤ 2.00x rsync one-file'],
        ['full.hardlink', 'atomic-deploy full, hardlink-releases', ratioCell('sl.full.hardlink', 'sl.pipeline', 'pipeline').text, ''],
        ['change.hardlink', 'atomic-deploy one-file change, hardlink-releases', ratioCell('sl.change.hardlink', 'sl.rsync.change', 'rsync one-file').text, '']
      ])
    )
    if (!rsyncStatus.ok) out.push(`| rsync -a --delete | not available: ${rsyncStatus.why} | | | | | | |`)
    ratioVerdict(`one-file change ≤ 2x rsync one-file change (${SLOW_RATE.replace('mbit', ' Mbit/s')}, ${2 * SLOW_DELAY_MS} ms round trip)`, 'sl.change', 'sl.rsync.change', 2)
    const slSent = stat('sl.full.auto', 'bytesUploaded')
    const slPipe = stat('sl.pipeline')
    if (slSent !== undefined && slPipe !== undefined) {
      const floor = (slSent * 8) / 100e6
      out.push('')
      out.push(`At 100 Mbit/s the ${fmtBytes(slSent)} a full deploy sends (half the tree is random bytes, which no compressor shrinks) take at least ${floor.toFixed(2)} s on the wire alone: ${fmtX((floor * 1000) / slPipe)} the pipeline's median. ${floor * 1000 > 0.5 * slPipe ? 'So the 0.5x target cannot be met over this link with this tree; the loopback row is the one that tests it.' : ''}`.trim())
    }
  }
  out.push('')

  // Summary of targets
  out.push('### Targets')
  out.push('')
  out.push('| target | measured | |')
  out.push('|---|---|---|')
  for (const v of verdicts) out.push(`| ${v.what.replace(/\|/g, '\\|')} | ${v.measured} | ${v.met === undefined ? 'not measured' : v.met ? 'met' : `**not met**${v.shortBy ? ` (${v.shortBy})` : ''}`} |`)
  const failures = [...results.entries()].filter(([, entry]) => entry.errors.length)
  if (failures.length) {
    out.push('')
    out.push('Failed runs:')
    for (const [key, entry] of failures) out.push(`- ${key} (${entry.label}): ${entry.errors.length} failed; first: ${entry.errors[0].split('\n')[0]}`)
  }
  out.push('')
  out.push(`Bench wall time${context.treeCount > 1 ? ' (every tree so far)' : ''}: ${fmtS(elapsedMs)}.`)
  return out.join('\n')
}

// ---------------------------------------------------------------- main

async function main() {
  const startedAt = Date.now()
  const options = parseArgs(process.argv.slice(2))
  if (options.help) {
    say(usage())
    return 0
  }
  if (!sshd.locateSshd()) {
    process.stderr.write('The benchmark needs an OpenSSH server (sshd): sudo apt-get install -y openssh-server\n')
    return 1
  }
  for (const tool of ['ssh', 'ssh-keygen', 'tar', 'gzip', 'bash']) {
    if (!which(tool)) {
      process.stderr.write(`The benchmark needs ${tool}, and it is not installed.\n`)
      return 1
    }
  }
  if (!fs.existsSync(CLI)) {
    process.stderr.write(`${path.relative(REPO, CLI)} is missing: run npm run build first.\n`)
    return 1
  }

  // Load average first, before this run adds its own.
  const facts = machineFacts()
  const kinds = options.tree === 'both' ? ['laravel', 'files'] : [options.tree]
  say(`atomic-deploy benchmark (tree ${kinds.join(' then ')}${options.small ? ', --small' : ''}, ${options.runs} runs per scenario; load average at start ${facts.load})`)
  if (!which('git')) {
    process.stderr.write('The benchmark needs git (the Laravel-like tree is a git checkout), and it is not installed.\n')
    return 1
  }
  const rsyncStatus = ensureRsync()
  if (!rsyncStatus.ok) say(`rsync rows skipped: ${rsyncStatus.why}`)

  const parent = serverParent(options)
  removeStaleFolders(os.tmpdir(), 'atomic-deploy-bench-work-')
  removeStaleFolders(parent, 'atomic-deploy-bench-srv-')
  state.workdir = fs.mkdtempSync(path.join(os.tmpdir(), `atomic-deploy-bench-work-${process.pid}-`))
  fs.chmodSync(state.workdir, 0o755)
  const workdir = state.workdir
  ctx.shipit = installShipit(workdir)
  say(ctx.shipit.ok ? `shipit rows: ${ctx.shipit.version}` : `shipit rows not available: ${ctx.shipit.why}`)
  ctx.keyFile = path.join(workdir, 'user_key')
  sshd.keygen(ctx.keyFile, 'ed25519')
  const preloadDir = path.join(workdir, 'preload')
  fs.mkdirSync(preloadDir)
  ctx.preload = path.join(preloadDir, 'maxrss.js')
  fs.writeFileSync(
    ctx.preload,
    [
      "'use strict'",
      '// Written by scripts/bench.js: the peak resident set of this process, in KiB, at exit.',
      "process.on('exit', () => {",
      '  const file = process.env.BENCH_MAXRSS_FILE',
      "  if (file) try { require('fs').writeFileSync(file, String(process.resourceUsage().maxRSS) + '\\n') } catch {}",
      '})',
      ''
    ].join('\n')
  )

  // Loopback server, its deploy roots under the server folder.
  state.serverDir = fs.mkdtempSync(path.join(parent, `atomic-deploy-bench-srv-${process.pid}-`))
  fs.chmodSync(state.serverDir, 0o755)
  const serverFs = fsType(state.serverDir)
  say(`server folders (deploy roots) on ${options.tmpfs ? 'TMPFS, ' : ''}${serverFs}: ${state.serverDir}`)
  if (serverFs.includes('without a journal')) await waitOutLastCleanup()
  const server = await sshd.startSshd({ parentDir: state.serverDir, userKeyFile: ctx.keyFile })
  state.servers.push({ stop: server.stop, pid: server.pid })
  const knownHostsFile = path.join(workdir, 'known_hosts')
  fs.writeFileSync(knownHostsFile, server.knownHosts)
  /** @type {Target} */
  const loopback = {
    name: 'loopback',
    host: server.host,
    port: server.port,
    username: server.username,
    knownHostsFile,
    root: server.root,
    log: server.log,
    wrap: (command, args) => [command, args]
  }
  say(`sshd on 127.0.0.1:${server.port} (pid ${server.pid}), logging in ${server.username}`)
  await settleLog(loopback)

  // Slowed link, set up once for every tree.
  let slowTarget
  let slow
  let slowWhy
  let linkMbit
  if (!options.slowLink) slowWhy = '--no-slow-link was given'
  else {
    const started = await startSlowLink(state.serverDir, ctx.keyFile)
    if (!started.target) {
      slowWhy = started.why
      say(`slowed link skipped: ${slowWhy}`)
    } else {
      slowTarget = started.target
      slow = started.facts
      say(`slowed link: ${slow}`)
      try {
        linkMbit = await measureLink(slowTarget)
        say(`  measured ${linkMbit.toFixed(0)} Mbit/s through ssh`)
      } catch (error) {
        say(`  could not measure the link: ${error.message}`)
      }
    }
  }

  const reports = []
  for (const kind of kinds) {
    results.clear()
    verdicts.length = 0
    const tree = ensureTree(kind, options.small)
    ctx.tree = tree
    say('')
    say(tree.generatedMs !== undefined ? `generated the ${kind} tree in ${fmtS(tree.generatedMs)}: ${tree.dir}` : `reusing the cached ${kind} tree: ${tree.dir}`)
    say(`  ${tree.files.toLocaleString('en-US')} files, ${tree.folders.toLocaleString('en-US')} folders, ${fmtBytes(tree.bytes)}`)
    warnIfShortOfRoom(state.serverDir, tree.bytes * ROOT_COPIES_PER_RUN * options.runs)
    // The workspace is a hard-linked copy of the cached tree; the edited file is unlinked before it is written.
    ctx.workspace = path.join(workdir, `workspace-${kind}`)
    const copy = spawnSync('cp', ['-al', tree.dir, ctx.workspace])
    if (copy.status !== 0) {
      fs.rmSync(ctx.workspace, { recursive: true, force: true })
      execFileSync('cp', ['-a', tree.dir, ctx.workspace])
    }

    say(`Loopback (127.0.0.1), ${kind} tree`)
    for (let r = 1; r <= options.runs; r++) await loopbackRun(`[loopback ${r}/${options.runs}]`, loopback, rsyncStatus.ok)
    if (slowTarget) {
      say(`Link slowed to 100 Mbit/s, ${2 * SLOW_DELAY_MS} ms round trip, ${kind} tree`)
      for (let r = 1; r <= options.runs; r++) await slowRun(`[slowed ${r}/${options.runs}]`, slowTarget, rsyncStatus.ok)
    }
    reports.push(buildReport({ facts, tree, runs: options.runs, slow, slowWhy, rsyncStatus, linkMbit, serverFs, tmpfs: options.tmpfs, shipit: ctx.shipit, treeCount: reports.length + 1, elapsedMs: Date.now() - startedAt }))
    fs.rmSync(ctx.workspace, { recursive: true, force: true })
  }

  await cleanup()
  fs.writeFileSync(CLEANED_AT_FILE, `${Date.now()}\n`)
  say('')
  say('Removed every deploy root, the servers, the namespaces and the temporary folders (shipit\'s install too); the reference trees stay cached.')
  say('')
  say(reports.join('\n\n'))
  return 0
}

main().then(
  (code) => {
    process.exitCode = code
  },
  async (error) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${usage()}\n`)
      process.exitCode = 2
      return
    }
    process.stderr.write(`\nbench failed: ${error instanceof Error ? error.stack || error.message : String(error)}\n`)
    try {
      await cleanup()
    } catch (cleanupError) {
      process.stderr.write(`cleanup failed: ${cleanupError.message}\n`)
    }
    process.exitCode = 1
  }
)
