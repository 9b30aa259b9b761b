/**
 * The incremental upload's control lists travel as the first members of the
 * upload's tar stream, ahead of what the system tar packs from the workspace.
 * GNU tar and bsdtar disagree on how to pack from two folders in one call
 * (bsdtar stops reading options at the first name, and neither honours `-C`
 * in a NUL-separated name list), so these few members are written here, as
 * plain ustar records with no end-of-archive marker: the system tar's
 * output, which follows, ends the archive. Nothing is written to disk.
 */

/** One member of the control folder: a file of the given content. */
export interface ControlFile {
  name: string
  data: Buffer
}

const BLOCK = 512

/** The control folder and its files, as tar records. */
export function controlRecords(folder: string, files: ControlFile[]): Buffer {
  const parts = [header(`${folder}/`, '5', 0o755, 0)]
  for (const file of files) {
    parts.push(header(`${folder}/${file.name}`, '0', 0o644, file.data.length), file.data, Buffer.alloc(padding(file.data.length)))
  }
  return Buffer.concat(parts)
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK
}

/** A ustar header block (POSIX.1-1988): names up to 100 bytes, which is all the control members need. */
function header(name: string, type: '0' | '5', mode: number, size: number): Buffer {
  const block = Buffer.alloc(BLOCK)
  if (Buffer.byteLength(name) > 100) throw new Error(`control member name too long for a ustar header: ${name}`)
  block.write(name, 0, 100, 'utf8')
  octal(block, 100, 8, mode)
  octal(block, 108, 8, 0) // uid
  octal(block, 116, 8, 0) // gid
  octal(block, 124, 12, size)
  octal(block, 136, 12, Math.floor(Date.now() / 1000))
  block.write(type, 156, 1, 'latin1')
  block.write('ustar\u000000', 257, 8, 'latin1')
  // The checksum is the byte sum of the header with its own field read as spaces.
  block.fill(' ', 148, 156, 'latin1')
  const sum = block.reduce((total, byte) => total + byte, 0)
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1')
  return block
}

/** A zero-padded octal number ending in NUL, filling the field. */
function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'latin1')
}
