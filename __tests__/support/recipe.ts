/**
 * Reads the tested configurations out of docs/recipes: a fenced block right
 * after a `<!-- tested: NAME -->` line, with the placeholders the recipe
 * documents (paths, ports, users) replaced by the test's own values.
 */
import * as fs from 'fs'
import * as path from 'path'

const RECIPES = path.resolve(__dirname, '../../docs/recipes')

/** The body of the fenced block marked `<!-- tested: name -->` in docs/recipes/<file>. */
export function recipeBlock(file: string, name: string): string {
  const text = fs.readFileSync(path.join(RECIPES, file), 'utf8')
  const marker = `<!-- tested: ${name} -->`
  const at = text.indexOf(marker)
  if (at < 0) throw new Error(`docs/recipes/${file} has no block marked ${marker}`)
  const block = /^\s*```[^\n]*\n([\s\S]*?)^```$/m.exec(text.slice(at + marker.length))
  if (!block) throw new Error(`docs/recipes/${file}: no fenced block follows ${marker}`)
  return block[1]
}

/**
 * `text` with each placeholder replaced everywhere; a placeholder that is not
 * there fails, so a recipe that drops one cannot be tested by accident as
 * something else.
 */
export function fillIn(text: string, values: Record<string, string>): string {
  let filled = text
  for (const [placeholder, value] of Object.entries(values)) {
    if (!filled.includes(placeholder)) throw new Error(`the recipe block no longer holds the placeholder ${JSON.stringify(placeholder)}:\n${text}`)
    filled = filled.split(placeholder).join(value)
  }
  return filled
}
