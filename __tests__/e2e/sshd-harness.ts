/**
 * Starts a real OpenSSH sshd on 127.0.0.1 with throwaway keys, for the
 * end-to-end tests. As root it logs in a dedicated non-root deploy user
 * (created on first use); otherwise it logs in the user running the tests.
 *
 * The work is done by scripts/lib/sshd.js (plain JavaScript, shared with
 * `npm run demo`); this file gives it types.
 */
import { ChildProcess } from 'child_process'
import { createRequire } from 'module'

export interface TestServer {
  host: string
  port: number
  username: string
  /** Private key text of a key the server accepts. */
  userKey: string
  /** known_hosts lines for this server, as ssh-keyscan would print them. */
  knownHosts: string
  /** SHA256 fingerprint of the server's first host key (ed25519 unless hostKeyTypes says otherwise). */
  fingerprint: string
  /** Each host key the server has, in the order of hostKeyTypes. */
  hostKeys: HostKeyInfo[]
  /** A fresh folder the deploy user owns, to hold deploy roots (as the server sees it). */
  root: string
  /** Where the test process sees the server's `root` (differs only with privateRootAt). */
  backing: string
  /** sshd's own log so far. */
  log(): string
  stop(): Promise<void>
}

export interface HostKeyInfo {
  /** As in a known_hosts line: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa. */
  keyType: string
  /** SHA256:..., as ssh-keygen -l prints it. */
  fingerprint: string
  /** The type as ssh-keygen -l prints it at the end of its line: ED25519, ECDSA, RSA. */
  word: string
}

export interface SshdOptions {
  extraConfig?: string
  /** ssh-keygen -t types of the server's host keys (default ['ed25519']). */
  hostKeyTypes?: string[]
  /**
   * Give this server a filesystem of its own at this path: sshd runs in a
   * private mount namespace (unshare -m, root only) with its own folder
   * bind-mounted there, so several servers can share one deploy path.
   */
  privateRootAt?: string
  /** Start sshd with this umask (e.g. '077'): its sessions, and so the deploy scripts, inherit it. */
  umask?: string
  /** Run sshd inside this network namespace (ip netns exec), listening on listenAddress. */
  namespace?: string
  listenAddress?: string
  port?: number
}

interface SshdCore {
  DEPLOY_USER: string
  DEPLOY_USER_PASSWORD: string
  findSshd(): string
  freePort(): Promise<number>
  startSshd(options?: SshdOptions): Promise<TestServer>
  deployRoot(server: TestServer, name: string): string
  waitForPort(port: number, log: () => string, child: ChildProcess, what?: string): Promise<void>
  settleSpareCopies(root: string, options?: { stop?: boolean; ms?: number; depth?: number }): Promise<string[]>
}

// Loaded with Node's own require: one module instance, and so one shared
// user key, per process, as before the move.
const core = createRequire(__filename)('../../scripts/lib/sshd.js') as SshdCore

export const DEPLOY_USER: string = core.DEPLOY_USER
export const DEPLOY_USER_PASSWORD: string = core.DEPLOY_USER_PASSWORD

/** Waits for the background spare copies of upload caches below `root` (lib/spare.sh); with `stop`, asks them to stop first. */
export function settleSpareCopies(root: string, options?: { stop?: boolean; ms?: number; depth?: number }): Promise<string[]> {
  return core.settleSpareCopies(root, options)
}

/**
 * After a run whose log says the server began a spare copy of its upload
 * cache in the background: waits for it at `deployPath` (as the test sees
 * it), so that what a test reads next is settled.
 */
export async function settleAfterRun(log: string, deployPath: string | undefined): Promise<void> {
  if (deployPath?.startsWith('/') && log.includes('making a spare copy of the upload cache')) {
    await settleSpareCopies(deployPath, { ms: 60_000, depth: 0 })
  }
}

export function findSshd(): string {
  return core.findSshd()
}

export function freePort(): Promise<number> {
  return core.freePort()
}

export function startSshd(options: SshdOptions = {}): Promise<TestServer> {
  return core.startSshd(options)
}

/** Waits until a test server listens on 127.0.0.1:port (fails early if its process exits). */
export function waitForPort(port: number, log: () => string, child: ChildProcess, what?: string): Promise<void> {
  return core.waitForPort(port, log, child, what)
}

/** A deploy root under the server's folder, owned by the deploy user. */
export function deployRoot(server: TestServer, name: string): string {
  return core.deployRoot(server, name)
}
