import { createHash } from 'crypto'
import * as fs from 'fs'
import * as path from 'path'

/**
 * Every path under a folder with its type, mode, link target and content
 * hash (and owner, when asked): equal trees give equal lists.
 */
export function treeSnapshot(root: string, options: { owners?: boolean } = {}): string[] {
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name)
      const stat = fs.lstatSync(full)
      const rel = path.relative(root, full)
      const owner = options.owners ? ` ${stat.uid}` : ''
      if (stat.isSymbolicLink()) out.push(`${rel} -> ${fs.readlinkSync(full)}`)
      else if (stat.isDirectory()) {
        out.push(`${rel}/ ${(stat.mode & 0o7777).toString(8)}${owner}`)
        walk(full)
      } else out.push(`${rel} ${(stat.mode & 0o7777).toString(8)}${owner} ${createHash('sha256').update(fs.readFileSync(full)).digest('hex')}`)
    }
  }
  walk(root)
  return out
}
