/** A bad input, found before any connection is made. The message names the input and the fix. */
export class InputError extends Error {
  constructor(
    readonly input: string,
    detail: string
  ) {
    super(`Invalid input '${input}': ${detail}`)
    this.name = 'InputError'
  }
}

/** Shows a user value in a message without letting it span lines or run on. */
export function shown(value: string): string {
  const oneLine = JSON.stringify(value)
  return oneLine.length > 80 ? `${oneLine.slice(0, 77)}..."` : oneLine
}
