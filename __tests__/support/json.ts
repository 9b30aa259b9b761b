/**
 * JSON read by the tests (the results and releases outputs, `--json`, the lines
 * of releases.log), checked for its shape on the way in, so a test reads typed
 * fields and a wrong shape fails with a message rather than a TypeError.
 */

/** A JSON object whose fields are still to be checked by the test that reads them. */
export type JsonObject = Record<string, unknown>

/** One line of the server's releases.log: every line names its event and release. */
export interface LogLine extends JsonObject {
  event: string
  id: string
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function parse(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new Error(`${what} is not JSON (${(error as Error).message}): ${text.slice(0, 200)}`)
  }
}

export function asObject(value: unknown, what: string): JsonObject {
  if (!isJsonObject(value)) throw new Error(`${what} is not a JSON object: ${JSON.stringify(value)?.slice(0, 200)}`)
  return value
}

export function asObjects(value: unknown, what: string): JsonObject[] {
  if (!Array.isArray(value) || !value.every(isJsonObject)) throw new Error(`${what} is not an array of JSON objects: ${JSON.stringify(value)?.slice(0, 200)}`)
  return value
}

/** JSON text that must hold an object. */
export function parseObject(text: string, what: string): JsonObject {
  return asObject(parse(text, what), what)
}

/** JSON text that must hold an array of objects, e.g. the `results` output. */
export function parseObjects(text: string, what: string): JsonObject[] {
  return asObjects(parse(text, what), what)
}

/** The lines of releases.log, each checked to name its event and release. */
export function parseLogLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const entry = parseObject(line, 'a line of releases.log')
      if (typeof entry.event !== 'string' || typeof entry.id !== 'string') throw new Error(`releases.log line without event and id: ${line}`)
      return { ...entry, event: entry.event, id: entry.id }
    })
}
