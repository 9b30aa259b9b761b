'use strict'
/**
 * A TCP relay on 127.0.0.1 that holds every chunk, in each direction, for a
 * fixed time before passing it on: 25 ms each way gives a link with a 50 ms
 * round trip, for counting what round trips cost where the kernel has no
 * netem. Order is kept, and nothing is throttled (bandwidth is tbf's job).
 *
 * Usage, from a script:
 *   const { startDelayRelay } = require('./lib/delay-relay')
 *   const relay = await startDelayRelay({ targetHost: '127.0.0.1', targetPort: sshPort, delayMs: 25 })
 *   // connect to 127.0.0.1:relay.port instead of sshPort ...
 *   await relay.stop()
 * From a shell: node scripts/lib/delay-relay.js [<target-host>:]<target-port> [delay-ms] [listen-port]
 * (prints the port it listens on, relays until killed).
 *
 * Plain CommonJS, no dependencies: it runs under node as is.
 */
const net = require('net')

/**
 * Pipes `from` into `to`, each chunk sent `delayMs` after it arrived. An end
 * is passed on after the chunks before it; a chunk that arrives while an
 * earlier one waits keeps its own arrival time, so the delay is a latency,
 * not a cap on throughput.
 */
function delayedPipe(from, to, delayMs) {
  let last = Promise.resolve()
  const later = (action) => {
    const due = Date.now() + delayMs
    last = last.then(
      () =>
        new Promise((resolve) => {
          setTimeout(
            () => {
              action()
              resolve()
            },
            Math.max(0, due - Date.now())
          )
        })
    )
  }
  from.on('data', (chunk) => later(() => to.destroyed || to.write(chunk)))
  from.on('end', () => later(() => to.destroyed || to.end()))
  from.on('error', () => later(() => to.destroy()))
  from.on('close', () => later(() => to.destroyed || to.end()))
}

/**
 * @param {{ targetHost?: string, targetPort: number, delayMs?: number, port?: number }} options
 * @returns {Promise<{ port: number, connections: () => number, stop: () => Promise<void> }>}
 */
function startDelayRelay(options) {
  const delayMs = options.delayMs ?? 25
  const sockets = new Set()
  let accepted = 0
  const server = net.createServer((client) => {
    accepted++
    client.setNoDelay(true)
    const upstream = net.connect({ host: options.targetHost || '127.0.0.1', port: options.targetPort })
    upstream.setNoDelay(true)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    }
    delayedPipe(client, upstream, delayMs)
    delayedPipe(upstream, client, delayMs)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port || 0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        connections: () => accepted,
        stop: () =>
          new Promise((done) => {
            sockets.forEach((socket) => socket.destroy())
            server.close(() => done())
          })
      })
    })
  })
}

module.exports = { startDelayRelay }

if (require.main === module) {
  const [target, delayMs, port] = process.argv.slice(2)
  const [, targetHost, targetPort] = /^(?:(.+):)?(\d+)$/.exec(target || '') || []
  if (!targetPort) {
    process.stderr.write('usage: node scripts/lib/delay-relay.js [<target-host>:]<target-port> [delay-ms] [listen-port]\n')
    process.exit(2)
  }
  startDelayRelay({ targetHost, targetPort: Number(targetPort), delayMs: Number(delayMs) || 25, port: Number(port) || 0 }).then((relay) => process.stdout.write(`${relay.port}\n`))
}
