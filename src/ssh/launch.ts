/**
 * How a script reaches the server without ever being a command-line
 * argument (argv is world-readable in ps): the exec command is a fixed
 * reader holding nothing but the script's byte length, and the script is
 * the first thing on the channel's stdin. The reader takes exactly that many
 * bytes, so whatever follows on stdin (prepare's upload) is left for the
 * script.
 */

/** The script's last line: the reader runs the script only when it arrived with it. */
const END_MARK = '#atomic-deploy-script-end'

/** The reader's message when the script did not arrive whole (a lost connection, or no dd). */
const INCOMPLETE = 'atomic-deploy: the deploy script did not arrive whole on stdin (is dd installed on the server?)'

export interface Launch {
  /** The command for the SSH exec request: a fixed reader and one number. */
  command: string
  /** What to send on stdin before anything else. */
  payload: Buffer
}

/**
 * `dd iflag=fullblock` (GNU, and BusyBox with its ibs/obs option) reads the
 * script in a few large reads that never go past it; a dd without it refuses
 * the operand before reading anything, and the one-byte reads that every dd
 * has take over, slower but just as exact (head -c would do, but BusyBox's
 * reads ahead through stdio and would eat the start of the upload). `echo .`
 * keeps the final newlines that $(...) would strip; the end mark must then
 * come last, so a script cut short is never run.
 */
export function launch(script: string): Launch {
  const payload = Buffer.from(`${script}${script.endsWith('\n') ? '' : '\n'}${END_MARK}\n`)
  const n = payload.length
  const reader = [
    `s=$({ dd bs=${n} count=1 iflag=fullblock || dd bs=1 count=${n}; } 2>/dev/null; echo .)`,
    `case $s in *"${END_MARK}"?.) eval "\${s%.}" ;; *) echo "${INCOMPLETE}" >&2; exit 125 ;; esac`
  ].join('; ')
  return { command: `sh -c '${reader}'`, payload }
}
