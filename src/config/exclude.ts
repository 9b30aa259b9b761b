import picomatch from 'picomatch'
import { InputError, shown } from './input-error'
import { lines } from './shared-paths'

/**
 * Left out before the user's patterns, so that setting exclude never uploads
 * it by accident (actions/checkout keeps its token in .git/config); a
 * `!.git` line puts it back.
 */
export const EXCLUDED_FIRST = ['.git']

/** One exclude line, read as .gitignore reads it. */
export interface ExcludeLine {
  /** `!pattern`: puts back what an earlier line left out. */
  negated: boolean
  /** The glob, without the `!`, leading slashes and trailing slashes. */
  glob: string
  /** A trailing `/`: matches folders only. */
  directoryOnly: boolean
  /** A slash before the end: matched against the path from the source root, not against a name at any depth. */
  anchored: boolean
}

/** The parts of one line; `\!` at the start is a literal `!` (left to picomatch, which reads the escape). */
export function excludeLine(line: string): ExcludeLine {
  const negated = line.startsWith('!')
  const raw = negated ? line.slice(1) : line
  return {
    negated,
    glob: raw.replace(/^\/+/, '').replace(/\/+$/, ''),
    directoryOnly: raw.endsWith('/'),
    anchored: raw.replace(/\/+$/, '').includes('/')
  }
}

/** The patterns in the order they apply: EXCLUDED_FIRST, then the user's lines (blank lines and `#` comments dropped). */
export function parseExclude(text: string): string[] {
  const patterns = [...EXCLUDED_FIRST, ...lines(text)]
  for (const pattern of patterns) {
    const { glob } = excludeLine(pattern)
    if (glob === '') throw new InputError('exclude', `${shown(pattern)} names no path; write the name or glob to leave out, e.g. *.log or !keep.log.`)
    try {
      picomatch(glob)
    } catch (error) {
      throw new InputError('exclude', `${shown(pattern)} is not a glob pattern (${(error as Error).message}).`)
    }
  }
  return patterns
}
