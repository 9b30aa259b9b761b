/**
 * True when text holds a C0 control character (NUL to US, 0x00-0x1f) or DEL
 * (0x7f), which the deploy path and shared paths may not contain.
 */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}
