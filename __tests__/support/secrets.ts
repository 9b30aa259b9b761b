import * as fs from 'fs'

/** The lines of a private key that are secret (all but the BEGIN and END lines). */
export function keyBodyLines(key: string): string[] {
  return key
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('-----'))
}

/**
 * Which secrets appear in what runs printed or wrote. `::add-mask::` lines
 * register a secret for masking; the runner consumes them and never shows them.
 */
export function secretsShown(captured: string[], secrets: string[]): string[] {
  const shown = captured
    .join('\n')
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n')
  return secrets.filter((secret) => shown.includes(secret)).map((secret) => `${secret.slice(0, 6)}...`)
}

/** Every process's argv, as one string each (NULs as spaces); processes that end while read are skipped. */
function allCommandLines(): string[] {
  const lines: string[] = []
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      lines.push(fs.readFileSync(`/proc/${pid}/cmdline`).toString('utf8').replace(/\0/g, ' '))
    } catch {
      // gone already
    }
  }
  return lines
}

export interface Sampling {
  samples: number
  /** Command lines (their first 200 characters) that held the secret. */
  secretSeen: string[]
  /** Samples in which some command line held the visible marker: the positive control. */
  visibleSeen: number
}

/**
 * Reads every process's full command line (/proc/<pid>/cmdline, as ps -ef
 * shows it) over and over until `done` settles, at most 5000 times and 120 s,
 * noting where `secret` and the control marker `visible` appear.
 */
export async function sampleArgvWhile(done: Promise<unknown>, secret: string, visible: string): Promise<Sampling> {
  let finished = false
  void done.finally(() => (finished = true))
  const result: Sampling = { samples: 0, secretSeen: [], visibleSeen: 0 }
  const deadline = Date.now() + 120_000
  while (!finished && result.samples < 5000 && Date.now() < deadline) {
    const lines = allCommandLines()
    result.samples++
    result.secretSeen.push(...lines.filter((line) => line.includes(secret)).map((line) => line.slice(0, 200)))
    if (lines.some((line) => line.includes(visible))) result.visibleSeen++
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return result
}
