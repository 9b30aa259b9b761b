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
