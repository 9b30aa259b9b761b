/**
 * Servers that each have a network of their own: per host a network
 * namespace (ip netns, root only), a veth pair to it, an sshd listening on
 * its end, and an nginx inside it serving the host's `current/public` on
 * port 8080 of every address there. So one URL, http://127.0.0.1:8080/...,
 * fetched on a server reaches that server's own nginx, as a health check on
 * a real fleet does. Everything is created by start and removed by stop
 * (also namespaces left by a run that was killed: adh<pid>-<n>, pid gone).
 */
import { spawnSync } from 'child_process'
import * as http from 'http'
import * as fs from 'fs'
import * as path from 'path'
import { TestServer, startSshd } from '../e2e/sshd-harness'
import { TestNginx, startNginx } from '../e2e/nginx-harness'

export const WEB_PORT = 8080

export interface NetnsHost {
  namespace: string
  /** The server's address, as the runner reaches it. */
  address: string
  server: TestServer
  /** Where the test process sees this host's deploy root (on the server it is at the fleet's `path`). */
  root: string
  nginx: TestNginx
}

function ip(...args: string[]): void {
  const run = spawnSync('ip', args, { encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${run.stderr}`)
}

/** Removes namespaces an earlier run of this helper left when it was killed outright. */
function removeStale(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? ''
  for (const match of list.matchAll(/^(adh(\d+)-\d+)/gm)) {
    const alive = spawnSync('kill', ['-0', match[2]]).status === 0
    if (!alive) spawnSync('ip', ['netns', 'del', match[1]], { stdio: 'ignore' })
  }
}

/** A GET from the test process, with a deadline; resolves with status and body, or rejects. */
export function get(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { timeout: timeoutMs, agent: false }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (body += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)))
    request.on('error', reject)
  })
}

async function answers(url: string): Promise<void> {
  const until = Date.now() + 30_000
  for (;;) {
    try {
      await get(url, 1000)
      return
    } catch (error) {
      if (Date.now() > until) throw new Error(`nothing answered at ${url} within 30 s: ${(error as Error).message}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

/**
 * `count` hosts, each in a namespace of its own and with a filesystem of its
 * own mounted at `mountAt` (as in fleet.test.ts), so that one `path` input,
 * `<mountAt>/<site>`, names each host's own deploy root.
 */
export async function startNetnsFleet(
  count: number,
  mountAt: string,
  site: string,
  serverLines: string[] = []
): Promise<{ hosts: NetnsHost[]; path: string; stop: () => Promise<void> }> {
  if (process.getuid?.() !== 0) throw new Error('The network-namespace fleet needs root (ip netns add).')
  removeStale()
  const hosts: NetnsHost[] = []
  const namespaces: string[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(hosts.flatMap((h) => [h.nginx.stop(), h.server.stop()]))
    // Deleting a namespace removes the veth end in it, and with it its peer.
    for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
  }
  try {
    for (let n = 1; n <= count; n++) {
      const namespace = `adh${process.pid}-${n}`
      const outside = `adh${process.pid}o${n}`
      const inside = `adh${process.pid}i${n}`
      const subnet = `10.213.${(process.pid % 200) + n}`
      ip('netns', 'add', namespace)
      namespaces.push(namespace)
      ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside, 'netns', namespace)
      ip('addr', 'add', `${subnet}.1/24`, 'dev', outside)
      ip('link', 'set', outside, 'up')
      ip('-n', namespace, 'addr', 'add', `${subnet}.2/24`, 'dev', inside)
      ip('-n', namespace, 'link', 'set', inside, 'up')
      ip('-n', namespace, 'link', 'set', 'lo', 'up')
      const address = `${subnet}.2`
      const server = await startSshd({ namespace, listenAddress: address, port: 22, privateRootAt: mountAt })
      const root = path.join(server.backing, site)
      fs.mkdirSync(root, { mode: 0o755 })
      fs.chownSync(root, fs.statSync(server.backing).uid, fs.statSync(server.backing).gid)
      const nginx = await startNginx(root, { namespace, port: WEB_PORT, serverLines, ready: () => answers(`http://${address}:${WEB_PORT}/`) })
      hosts.push({ namespace, address, server, root, nginx })
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { hosts, path: path.join(mountAt, site), stop }
}
