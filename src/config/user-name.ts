/** A user name on the server (username, writable-user): letters, digits and . _ - @, not starting with . - or @. */
export function isUserName(text: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9._@-]*$/.test(text) && text.length <= 64
}
