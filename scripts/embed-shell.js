#!/usr/bin/env node
// Embeds the server script's sources (src/remote/sh/**/*.sh) in a TypeScript
// module, src/remote/shell-sources.generated.ts (path -> text), so that the
// bundle carries them. `npm run build` runs it before tsc; `--check` fails
// instead when the committed module is not what the sources give.
const fs = require('fs')
const path = require('path')

const root = path.join(__dirname, '..', 'src', 'remote', 'sh')
const out = path.join(__dirname, '..', 'src', 'remote', 'shell-sources.generated.ts')

function shellFiles(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) return shellFiles(full)
      return entry.name.endsWith('.sh') ? [full] : []
    })
    .sort()
}

const entries = shellFiles(root).map((file) => [path.relative(root, file).split(path.sep).join('/'), fs.readFileSync(file, 'utf8')])
const text = [
  '// Generated from src/remote/sh by scripts/embed-shell.js (npm run build). Do not edit by hand.',
  '',
  '/** The server script\'s sources, by path under src/remote/sh. */',
  'export const SHELL_SOURCES: Readonly<Record<string, string>> = {',
  entries.map(([name, source]) => `  ${JSON.stringify(name)}: ${JSON.stringify(source)}`).join(',\n'),
  '}',
  ''
].join('\n')

if (process.argv.includes('--check')) {
  const committed = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : ''
  if (committed !== text) {
    console.error("src/remote/shell-sources.generated.ts is not what src/remote/sh holds: run 'npm run build' and commit it.")
    process.exit(1)
  }
} else {
  fs.writeFileSync(out, text)
}
