import { Compression, WireCompression } from '../config/settings'

/** auto: zstd where both ends have it, else gzip where both have it, else none. */
export function chooseCompression(wanted: Compression, local: Set<WireCompression>, remote: Set<string>): WireCompression {
  if (wanted !== 'auto') {
    if (!local.has(wanted)) throw new Error(`compression: ${wanted} is not installed on this machine; install it or use compression: auto.`)
    return wanted
  }
  for (const candidate of ['zstd', 'gzip'] as const) {
    if (local.has(candidate) && remote.has(candidate)) return candidate
  }
  return 'none'
}
