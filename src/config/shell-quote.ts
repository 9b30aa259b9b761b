/**
 * The one way a value enters the remote script: as a single-quoted POSIX
 * shell word. Inside single quotes nothing is special except the quote
 * itself, which is closed, escaped and reopened.
 */
export function quote(value: string | number): string {
  const text = String(value)
  if (text.includes('\0')) throw new Error('a NUL character cannot be passed to the remote shell')
  return `'${text.replace(/'/g, `'\\''`)}'`
}
