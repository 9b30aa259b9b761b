/**
 * remove_tree (src/remote/sh/lib/fs.sh) under dash, BusyBox sh (with
 * BusyBox's chmod, find and rm) and bash, run by a user the file modes apply
 * to: it removes trees uploaded read-only, and changes nothing outside the
 * trees it is given, whatever a symlink given to it points to.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { describe, expect, it } from 'vitest'
import { quote } from '../../src/config/shell-quote'
import { treeSnapshot } from '../support/tree'
import { runShell, serverShells, Shell, unprivileged } from '../support/shells'

const LIB = path.join(__dirname, '..', '..', 'src', 'remote', 'sh', 'lib')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-remove-'))
fs.chmodSync(tmp, 0o755)
const SHELLS = serverShells(tmp)

function removeTree(shell: Shell, ...paths: string[]) {
  const script = `. ${quote(path.join(LIB, 'fs.sh'))}\nremove_tree ${paths.map(quote).join(' ')}`
  return runShell(shell, script, { cwd: tmp, asUnprivileged: true })
}

/** A folder outside the deploy root, read-only as the deploy user may well have one. */
function outsideFolder(base: string): string {
  const outside = path.join(base, 'outside')
  fs.mkdirSync(path.join(outside, 'sub'), { recursive: true })
  fs.writeFileSync(path.join(outside, 'sub/precious'), 'keep me')
  fs.chmodSync(path.join(outside, 'sub/precious'), 0o444)
  fs.chmodSync(path.join(outside, 'sub'), 0o555)
  fs.chmodSync(outside, 0o555)
  return outside
}

/** Read-only folders (mode 555) at every depth, files 444, as node_modules caches and build outputs have. */
function readOnlyTree(at: string, link?: string): void {
  fs.mkdirSync(path.join(at, 'a/b/c'), { recursive: true })
  fs.writeFileSync(path.join(at, 'a/b/c/deep.js'), 'deep')
  fs.writeFileSync(path.join(at, 'a/top.js'), 'top')
  if (link) fs.symlinkSync(link, path.join(at, 'a/b/outside-link'))
  for (const file of ['a/b/c/deep.js', 'a/top.js']) fs.chmodSync(path.join(at, file), 0o444)
  for (const dir of ['a/b/c', 'a/b', 'a', '.']) fs.chmodSync(path.join(at, dir), 0o555)
}

describe.each(SHELLS)('remove_tree under $name', (shell) => {
  it('removes a tree whose folders are read-only at every depth, and not what a link inside it points to', () => {
    const base = fs.mkdtempSync(path.join(tmp, `${shell.name}-ro-`))
    const outside = outsideFolder(base)
    const tree = path.join(base, 'deploy/releases/r1')
    fs.mkdirSync(tree, { recursive: true })
    readOnlyTree(tree, outside)
    unprivileged.prepare(base)
    const before = treeSnapshot(outside)
    const modeBefore = fs.statSync(outside).mode

    const removed = removeTree(shell, tree)
    expect(removed.code, removed.stderr).toBe(0)
    expect(fs.existsSync(tree)).toBe(false)
    expect(treeSnapshot(outside)).toEqual(before)
    expect(fs.statSync(outside).mode).toBe(modeBefore)
  })

  it('given a symlink to a folder outside the deploy root, changes nothing in that folder', () => {
    const base = fs.mkdtempSync(path.join(tmp, `${shell.name}-link-`))
    const outside = outsideFolder(base)
    // The link sits in a read-only folder, so the first rm -rf fails and remove_tree tries harder.
    const folder = path.join(base, 'deploy/.atomic-deploy/cache/dist')
    fs.mkdirSync(folder, { recursive: true })
    fs.symlinkSync(outside, path.join(folder, 'uploads'))
    const readOnly = path.join(base, 'deploy/releases/r1')
    fs.mkdirSync(readOnly, { recursive: true })
    readOnlyTree(readOnly)
    fs.chmodSync(folder, 0o555)
    unprivileged.prepare(base)
    const before = treeSnapshot(outside)
    const modeBefore = fs.statSync(outside).mode

    removeTree(shell, readOnly, path.join(folder, 'uploads'))
    expect(treeSnapshot(outside)).toEqual(before)
    expect(fs.statSync(outside).mode).toBe(modeBefore)
    expect(fs.readFileSync(path.join(outside, 'sub/precious'), 'utf8')).toBe('keep me')
    // The other tree of the same call is still removed.
    expect(fs.existsSync(readOnly)).toBe(false)
  })
})
