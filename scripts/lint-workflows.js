#!/usr/bin/env node
// Validates action.yml, the CI workflows, and every complete workflow shown in
// the docs (a ```yaml block with both `on:` and `jobs:`) with action-validator.
// action-validator 0.6.0 (the newest) does not know `using: node24` yet, so
// action.yml is checked with that one value read as node20.
const { execFileSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')

const root = path.join(__dirname, '..')
const validator = path.join(root, 'node_modules', '.bin', 'action-validator')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-deploy-lint-'))
const checks = []

const action = path.join(dir, 'action.yml')
fs.writeFileSync(action, fs.readFileSync(path.join(root, 'action.yml'), 'utf8').replace("using: 'node24'", "using: 'node20'"))
checks.push(['action.yml', action])

for (const name of fs.readdirSync(path.join(root, '.github', 'workflows'))) {
  checks.push([`.github/workflows/${name}`, path.join(root, '.github', 'workflows', name)])
}

const docs = ['README.md', ...fs.readdirSync(path.join(root, 'docs', 'recipes')).map((f) => `docs/recipes/${f}`)]
for (const doc of docs) {
  const text = fs.readFileSync(path.join(root, doc), 'utf8')
  const blocks = [...text.matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m) => m[1])
  blocks.forEach((block, index) => {
    if (!/^on:/m.test(block) || !/^jobs:/m.test(block)) return
    // action-validator decides action vs workflow by the file's folder.
    const file = path.join(dir, '.github', 'workflows', `${doc.replace(/\W/g, '_')}-${index}.yml`)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, block)
    checks.push([`${doc} (workflow ${index + 1})`, file])
  })
}

let failed = 0
for (const [label, file] of checks) {
  try {
    execFileSync(validator, [file], { stdio: 'pipe' })
  } catch (error) {
    failed++
    console.error(`${label}: invalid\n${error.stdout}${error.stderr}`)
  }
}
fs.rmSync(dir, { recursive: true, force: true })
console.log(`${checks.length - failed} of ${checks.length} YAML files valid (action.yml, CI workflows, workflows in the docs)`)
process.exit(failed ? 1 : 0)
