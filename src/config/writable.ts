import { WritableMode, WritableSettings } from './settings'
import { InputError, shown } from './input-error'
import { relativePathProblem } from './relative-path'
import { lines } from './shared-paths'
import { isUserName } from './user-name'

const MODES: readonly WritableMode[] = ['acl', 'chgrp', 'chmod']

/**
 * `writable`, `writable-mode` and `writable-user`. acl and chgrp give the
 * folders to one user (or its group), so they need it; chmod opens them to
 * every user of the server and takes none.
 */
export function parseWritable(text: string, modeText: string, user: string): WritableSettings {
  if (!(MODES as readonly string[]).includes(modeText)) {
    throw new InputError('writable-mode', `${shown(modeText)} is not one of ${MODES.join(', ')}.`)
  }
  const mode = modeText as WritableMode
  const paths = lines(text).map(parseWritablePath)
  if (user && !isUserName(user)) throw new InputError('writable-user', `${shown(user)} is not a user name. Expected letters, digits and . _ - @.`)
  if (paths.length > 0 && mode !== 'chmod' && !user) {
    throw new InputError('writable-user', `is required with writable-mode ${mode}: name the user that writes there (the web server or PHP-FPM user, e.g. www-data).`)
  }
  return { paths, mode, user: mode === 'chmod' ? '' : user }
}

function parseWritablePath(line: string): string {
  const problem = relativePathProblem(line)
  if (problem) throw new InputError('writable', `${shown(line)} ${problem}. Expected folders relative to the release, e.g. storage/ or bootstrap/cache/.`)
  return line.replace(/\/+$/, '')
}
