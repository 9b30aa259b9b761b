import { HostAddress } from './settings'
import { InputError, shown } from './input-error'

const HOST_NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/
const IPV6 = /^[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?$/

/** Parses `host`, `host:port`, `[v6]:port` or a bare IPv6 address. */
export function parseHostAddress(text: string, defaultPort: number, input = 'host'): HostAddress {
  const value = text.trim()
  if (!value) throw new InputError(input, 'it is empty. Expected a server name or address, e.g. example.com or 203.0.113.7:2222.')
  if (value.length > 262) throw new InputError(input, `${shown(value)} is too long for a host name (at most 253 characters, and a port).`)
  let host = value
  let portText: string | undefined
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(value)
  if (bracketed) {
    host = bracketed[1]
    portText = bracketed[2]
    if (!IPV6.test(host) || !host.includes(':')) {
      throw new InputError(input, `${shown(value)} has brackets around something that is not an IPv6 address.`)
    }
  } else if ((value.match(/:/g) ?? []).length === 1) {
    ;[host, portText] = value.split(':')
  }
  const isV6 = host.includes(':')
  if (isV6 ? !IPV6.test(host) : !HOST_NAME.test(host)) {
    throw new InputError(input, `${shown(value)} is not a server name or address. Expected host, host:port or [ipv6]:port, with no spaces or shell characters.`)
  }
  const port = portText === undefined ? defaultPort : parsePort(portText, input)
  return { host, port }
}

export function parsePort(text: string, input = 'port'): number {
  const port = /^\d{1,5}$/.test(text.trim()) ? Number(text.trim()) : NaN
  if (!(port >= 1 && port <= 65535)) {
    throw new InputError(input, `port ${shown(text)} is not a number from 1 to 65535.`)
  }
  return port
}

/** How the host appears in known_hosts files: `name`, or `[name]:port` off port 22. */
export function knownHostsName(address: HostAddress): string {
  return address.port === 22 ? address.host : `[${address.host}]:${address.port}`
}

/** For messages: `example.com:2222`, `[::1]:22`. */
export function describeHost(address: HostAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}
