/**
 * Everything a run needs, parsed and validated once by `inputs.ts`.
 * Nothing else in the code reads inputs or environment variables.
 */

/** One SSH server to deploy to. */
export interface HostAddress {
  /** Name or address as the user wrote it, without brackets for IPv6. */
  host: string
  port: number
}

/** How the server proves who it is. Exactly one mode applies. */
export type HostKeyPolicy =
  | { mode: 'known-hosts'; knownHosts: string }
  /** keyType (as the user named it) steers the connection to that type; without it, each type the server has is tried. */
  | { mode: 'fingerprint'; fingerprint: string; keyType?: string }
  | { mode: 'insecure' }
  /** No pin given: refuse, and show the fingerprint the server offered. */
  | { mode: 'unpinned' }

export interface Credentials {
  username: string
  /** Private key text, already repaired (LF line ends, final newline). */
  privateKey?: string
  passphrase?: string
  password?: string
}

export interface SharedEntry {
  /** Relative path inside the release, without a trailing slash. */
  path: string
  /** The user marked it with a trailing `/`. */
  isDirectory: boolean
}

/** A file written into each new release from a secret (env-file). */
export interface EnvFile {
  /** Relative to the release, checked: no `..`, not absolute, not in a shared entry. */
  path: string
  /** The content as written: LF line ends, a final newline, no NUL. */
  text: string
}

export type WritableMode = 'acl' | 'chgrp' | 'chmod'

/** Folders the web server's user may write to (writable). */
export interface WritableSettings {
  /** Relative to the release, checked, without a trailing slash; [] for none. */
  paths: string[]
  mode: WritableMode
  /** The user that writes there; '' with chmod, which opens them to every user. */
  user: string
}

export type Compression = 'auto' | 'gzip' | 'zstd' | 'none'

/** What actually travels: the choice `auto` settles on, per host. */
export type WireCompression = Exclude<Compression, 'auto'>

export type Mode = 'deploy' | 'rollback' | 'list' | 'unlock'

/** Where a release came from, written to the releases log and lock owner. */
export interface Provenance {
  sha?: string
  ref?: string
  actor?: string
  runUrl?: string
  /** The machine (and process) that runs the deploy, for lock owner text. */
  runner: string
}

/** A bastion the target connections are tunnelled through. */
export interface ProxySettings {
  address: HostAddress
  credentials: Credentials
  hostKey: HostKeyPolicy
}

/** The checks that prove a switched release works, run on each server after after-activate. */
export interface HealthSettings {
  /** Fetched from each server (curl, wget or BusyBox wget); [] for none. */
  urls: string[]
  /** Shell commands run in the release on each server; exit 0 means healthy. '' for none. */
  command: string
  /** Text every URL's body must contain; `{release-id}` stands for the release checked. '' for none. */
  expect: string
  /** Accepted HTTP statuses, as inclusive ranges. */
  status: Array<[number, number]>
  timeoutSeconds: number
  intervalSeconds: number
}

/** together: switch all, then check all; canary: the first batch, then the rest; rolling: batch by batch. */
export type Rollout = 'together' | 'canary' | 'rolling'

export interface DeploySettings {
  mode: Mode
  /** One or more servers; all get the same release id, and switch together. */
  targets: HostAddress[]
  credentials: Credentials
  hostKey: HostKeyPolicy
  proxy?: ProxySettings
  /** At most this many hosts are worked on at once. */
  maxParallel: number
  /** `first`: before-activate runs on the first host only (a migration runs once). */
  beforeActivateOn: 'all' | 'first'
  connectTimeoutSeconds: number
  /** Further connection attempts after a transient network failure. */
  retries: number
  /** Absolute deploy root on the server. */
  deployPath: string
  /** Absolute folder on the runner whose contents are uploaded. */
  sourceDir: string
  /** Exclude lines in the order they apply (.gitignore's rules, picomatch globs): `.git` first, then the user's. */
  exclude: string[]
  /** Deploy a source that holds no file (after exclude) rather than refuse it. */
  allowEmpty: boolean
  /** Given by the user, or derived from time and commit. */
  releaseId: string
  /** The user asked for this id (rollback target), rather than the default. */
  releaseIdGiven: boolean
  keep: number
  shared: SharedEntry[]
  /** Also link every entry of shared/ into the release (DeployHQ's way). */
  sharedAuto: boolean
  /** Written into the release (mode 600) before before-activate; undefined: none. */
  envFile?: EnvFile
  writable: WritableSettings
  /** Connect and print the plan and scripts; change nothing. */
  dryRun: boolean
  beforeActivate: string
  afterActivate: string
  revertOnFailure: boolean
  /** Seconds a hook may run; 0: no limit. */
  commandTimeoutSeconds: number
  compression: Compression
  /** zstd 1-19, gzip 1-9; undefined: 3 for zstd, 1 for gzip. */
  compressionLevel?: number
  /** Send only what changed since the last upload, against the server's cache. */
  incremental: boolean
  /** Build releases as hard-linked copies of the cache: fast, unsafe if the app writes into its release. */
  hardlinkReleases: boolean
  /** Seconds to wait for another deploy's lock; 0 fails at once. */
  lockTimeoutSeconds: number
  provenance: Provenance
  /** Health checks after the switch (and after a rollback); absent: none. */
  health?: HealthSettings
  /** Absent: together. */
  rollout?: Rollout
  /** Hosts switched at once by canary (the canaries) and rolling; absent: 1. */
  batchSize?: number
  /** Path, relative to the release, of the file holding the release id and commit; absent or '': none. */
  revisionFile?: string
}

/** What decides the upload stream: all `pack` needs, and a part of every deploy's settings. */
export type UploadSettings = Pick<DeploySettings, 'sourceDir' | 'exclude' | 'allowEmpty' | 'compression' | 'compressionLevel' | 'incremental'>
