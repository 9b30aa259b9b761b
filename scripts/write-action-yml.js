#!/usr/bin/env node
// Writes action.yml from the one list of inputs and outputs (src/config/input-spec.ts,
// compiled to lib/). `--check` fails instead when action.yml differs.
const fs = require('fs')
const path = require('path')
const { INPUTS, OUTPUTS } = require('../lib/config/input-spec')

const quote = (text) => `'${String(text).replace(/'/g, "''")}'`
const lines = [
  '# Generated from src/config/input-spec.ts by scripts/write-action-yml.js (npm run build). Do not edit by hand.',
  "name: 'Atomic Deploy over SSH'",
  "description: 'Zero-downtime releases over SSH: upload into releases/<id>, link shared paths, run your commands, switch current with one rename(2), prune.'",
  "author: 'atomic-deploy'",
  'branding:',
  "  icon: 'upload-cloud'",
  "  color: 'green'",
  '',
  'inputs:'
]
for (const input of INPUTS) {
  lines.push(`  ${input.name}:`, `    description: ${quote(input.description)}`, `    required: ${input.required ? 'true' : 'false'}`)
  if (input.default !== undefined) lines.push(`    default: ${quote(input.default)}`)
}
lines.push('', 'outputs:')
for (const output of OUTPUTS) lines.push(`  ${output.name}:`, `    description: ${quote(output.description)}`)
lines.push('', 'runs:', "  using: 'node24'", "  main: 'dist/index.js'", "  post: 'dist/index.js'", '')

const file = path.join(__dirname, '..', 'action.yml')
const text = lines.join('\n')
if (process.argv.includes('--check')) {
  if (fs.readFileSync(file, 'utf8') !== text) {
    console.error("action.yml is not what src/config/input-spec.ts generates: run 'npm run build' and commit action.yml.")
    process.exit(1)
  }
} else {
  fs.writeFileSync(file, text)
}
