/**
 * Exit codes of the remote script, one per kind of failure (as in Mina), so
 * that the TypeScript side can say what happened and what to do. The shell
 * side names them in src/remote/sh/lib/exit-codes.sh (`fail release-exists
 * ...` for releaseExists); __tests__/unit/exit-codes.test.ts keeps the two equal.
 */
export const EXIT = {
  path: 10,
  locked: 11,
  releaseExists: 12,
  currentNotLink: 13,
  upload: 14,
  shared: 15,
  beforeActivate: 16,
  switch: 17,
  afterActivate: 18,
  lockLost: 19,
  missingTool: 20,
  noRollbackTarget: 21,
  unknownRelease: 22,
  /** The upload cache is not usable: the runner sends everything instead. */
  cache: 23,
  envFile: 24,
  writable: 25,
  unhealthy: 26,
  httpClient: 27
} as const

/** What to tell the user for each code, after the remote error text. */
export const EXIT_HINTS: Record<number, string> = {
  [EXIT.path]: 'Check that path is right and that the SSH user may write there.',
  [EXIT.locked]: 'Another deploy is running, or one was killed. Wait for it, raise lock-timeout, or free a stale lock with mode: unlock.',
  [EXIT.releaseExists]: 'Release ids must be new: leave release-id empty for a fresh one, or pick another.',
  [EXIT.currentNotLink]: "Move the real folder aside on the server (e.g. 'mv current current.old'); atomic-deploy will then manage current as a symlink.",
  [EXIT.upload]: 'The upload did not arrive whole: check free disk space on the server and the connection, then deploy again.',
  [EXIT.shared]: 'Fix the shared entry on the server or in the shared input; nothing was switched.',
  [EXIT.beforeActivate]: 'before-activate failed; the new release was removed and current is unchanged.',
  [EXIT.switch]: 'The current symlink could not be switched; current still points to the release it had.',
  [EXIT.lockLost]: 'The deploy lock was taken over by someone else between steps; deploy again.',
  [EXIT.missingTool]: 'Install the missing tool on the server, or choose another compression.',
  [EXIT.noRollbackTarget]: 'There is no earlier good release on the server; redeploy the commit you want instead.',
  [EXIT.envFile]: 'Fix env-file-path (or the shared entries on the server); the new release was removed and current is unchanged.',
  [EXIT.writable]: 'Fix the writable paths, writable-user or writable-mode (or the server, as the message says); current is unchanged.',
  [EXIT.unknownRelease]: 'That release is not on the server (it may have been pruned); redeploy its commit instead.',
  [EXIT.unhealthy]: 'Check the last probe above; raise health-timeout if the app only needs longer to start.',
  [EXIT.httpClient]: 'Nothing was switched.'
}
