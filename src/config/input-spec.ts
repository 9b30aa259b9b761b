/**
 * Every input and output, once. action.yml is generated from this list
 * (npm run build), the command line's flags are read from it, and so are the
 * defaults parseSettings applies, so the two front ends cannot drift apart.
 */
export interface InputSpec {
  name: string
  description: string
  /** Applied when the input is empty or unset, by the action (action.yml) and the command line alike (inputOrDefault). */
  default?: string
  required?: boolean
  /** Secret: masked in logs; on the command line it comes only from a file (needs `file`) or the environment: given as a flag it is refused. */
  secret?: boolean
  /** The command line also reads it from a file: `--<name>-file <path>` or ATOMIC_DEPLOY_<NAME>_FILE. */
  file?: boolean
  /** On the command line: `value` (default) takes one (`--keep 3`); `switch` takes none (`--dry-run` means true) and defaults to false. */
  kind?: 'value' | 'switch'
  /** Multi-line text: a repeated flag adds a line. */
  lines?: boolean
}

export const INPUTS: InputSpec[] = [
  {
    name: 'mode',
    description: 'deploy (default); rollback (to the previous good release, or to release-id); list (releases as JSON and a table); unlock (free a lock left behind).',
    default: 'deploy'
  },
  {
    name: 'host',
    description: 'Server name or address: host, host:port, or [ipv6]:port. Several servers, one a line or comma-separated, all get the same release and switch together.',
    required: true,
    lines: true
  },
  {
    name: 'port',
    description: 'SSH port, used when host names none.',
    default: '22'
  },
  {
    name: 'username',
    description: 'SSH user on the server. It needs write access to path.',
    required: true
  },
  {
    name: 'ssh-key',
    description: 'Private key text (OpenSSH or PEM), from a secret. Windows line ends and a missing final newline are repaired.',
    secret: true,
    file: true
  },
  {
    name: 'ssh-key-passphrase',
    description: 'Passphrase of ssh-key, from a secret.',
    secret: true,
    file: true
  },
  {
    name: 'password',
    description: 'Password for password login, from a secret, when no ssh-key is given.',
    secret: true,
    file: true
  },
  {
    name: 'known-hosts',
    description: 'known_hosts lines for the server (plain or hashed), as ssh-keyscan prints them. Either this or host-fingerprint pins the host key.',
    lines: true,
    file: true
  },
  {
    name: 'host-fingerprint',
    description:
      'SHA256 fingerprint of the server host key, after its key type or not: ssh-ed25519 SHA256:abc..., ECDSA SHA256:abc... (ssh-keygen -lf prints both). A bare fingerprint is checked against each key type the server has.'
  },
  {
    name: 'strict-host-key',
    description: 'false skips host key checking (with a warning). Leave it true and pin the key with known-hosts or host-fingerprint.',
    default: 'true'
  },
  {
    name: 'path',
    description: 'Absolute deploy root on the server; current, releases/ and shared/ live in it.',
    required: true
  },
  {
    name: 'source',
    description: 'Folder to upload, relative to the workspace.',
    default: '.'
  },
  {
    name: 'exclude',
    description:
      'Newline-separated glob patterns left out of the upload, read as .gitignore reads them: a pattern without / matches a name at any depth, one with / is anchored at source, a trailing / matches folders only, and the last matching line decides, so a later !pattern puts back what an earlier one left out (not inside a folder left out, unless the folder is put back too). .git is always left out first (it holds the checkout token); a !.git line uploads it.',
    lines: true
  },
  {
    name: 'allow-empty',
    description: 'true: deploy even when source, after exclude, holds no file. Otherwise such a deploy is refused before connecting.',
    default: 'false',
    kind: 'switch'
  },
  {
    name: 'release-id',
    description:
      'deploy: name of the new release. Default in Actions: run<run id>.<attempt>-<short sha>, the same in every job of a run, so matrix jobs agree; on the command line: UTC time YYYYMMDDHHMMSS and the short commit sha (from GITHUB_SHA, CI_COMMIT_SHA or GIT_COMMIT). rollback: the release to switch to (default: the previous good one).'
  },
  {
    name: 'keep',
    description: 'How many good releases to keep, the current one included.',
    default: '5'
  },
  {
    name: 'shared',
    description: 'Newline-separated paths, relative to the release, that live in shared/ and are linked into every release. A trailing / marks a folder.',
    lines: true
  },
  {
    name: 'env-file',
    description:
      'Text of a file (usually a .env, from a secret) written into every new release at env-file-path, mode 600, before before-activate runs; it goes live with the switch. Sent over the connection on stdin, never as an argument; every line is masked in logs.',
    secret: true,
    file: true
  },
  {
    name: 'env-file-path',
    description: 'Where env-file is written, relative to the release. It may not be a shared entry or lie inside one.',
    default: '.env'
  },
  {
    name: 'writable',
    description:
      'Newline-separated folders, relative to the release (or inside a shared entry), that writable-user may write to (created when missing), e.g. storage/ and bootstrap/cache/.',
    lines: true
  },
  {
    name: 'writable-mode',
    description:
      'How writable folders are opened: acl (setfacl: writable-user and the deploy user get rwX, also as default ACLs, so what writable-user creates can still be pruned), chgrp (the group of writable-user, g+rwX, setgid folders) or chmod (a+rwX, for everyone).',
    default: 'acl'
  },
  {
    name: 'writable-user',
    description: 'The user that must write to the writable folders (the web server or PHP-FPM user, e.g. www-data). Needed for acl and chgrp.'
  },
  {
    name: 'before-activate',
    description: 'Shell commands run in the new release before the switch (migrations, caches). The first failing line fails the deploy and nothing is switched.',
    lines: true,
    file: true
  },
  {
    name: 'after-activate',
    description: 'Shell commands run after the switch (reload php-fpm, nginx). On failure the deploy switches back when revert-on-failure is true.',
    lines: true,
    file: true
  },
  {
    name: 'revert-on-failure',
    description: 'If after-activate or a health check fails, switch every switched host back to its previous release and mark the new one bad.',
    default: 'true'
  },
  {
    name: 'health-url',
    description:
      'URLs, one a line, fetched from each server after the switch and after-activate (with curl, wget or BusyBox wget, whichever it has). Each must answer a status in health-status, with health-expect in its body, within health-timeout, or the release is unhealthy.',
    lines: true
  },
  {
    name: 'health-command',
    description:
      'Shell commands run on each server in the new release after the switch and after-activate; exit status 0 means healthy. Tried with health-url, until health-timeout.',
    lines: true,
    file: true
  },
  {
    name: 'health-expect',
    description:
      "Text every health-url response body must contain (one line); {release-id} in it stands for the release checked, so health-expect: '{release-id}' proves the new release is the one served."
  },
  {
    name: 'health-status',
    description: "HTTP statuses a health-url may answer: codes and ranges, comma-separated (200,204,300-399). Redirects are followed: the status is the last page's.",
    default: '200-399'
  },
  {
    name: 'health-timeout',
    description:
      'Seconds each host has to pass its health checks. A host still unhealthy then fails the deploy: with revert-on-failure every switched host is switched back and the release is marked bad.',
    default: '30'
  },
  {
    name: 'health-interval',
    description: 'Seconds between health check tries.',
    default: '1'
  },
  {
    name: 'rollout',
    description:
      'With several hosts: together (switch all, then check all); canary (switch the first batch-size hosts and check them, then the rest); rolling (batch-size hosts at a time, each batch healthy before the next). On a failure no further host switches.',
    default: 'together'
  },
  {
    name: 'batch-size',
    description: 'rollout canary: how many hosts are canaries; rolling: how many hosts switch at once.',
    default: '1'
  },
  {
    name: 'revision-file',
    description:
      'File written into each release, relative to it (REVISION, public/REVISION), holding two lines: the release id, then the commit sha (empty when unknown), for a health page to serve. false turns it off. A workspace that has a file of that name is refused.',
    default: 'REVISION'
  },
  {
    name: 'command-timeout',
    description: 'Seconds each hook (before-activate, after-activate) may run; past that it and every process it started are stopped and the deploy fails. 0: no limit.',
    default: '0'
  },
  {
    name: 'incremental',
    description:
      'true: the server keeps the last upload (pristine, never served) and only new and changed files are sent. A missing or inconsistent cache means a full upload, never a wrong release.',
    default: 'true'
  },
  {
    name: 'hardlink-releases',
    description:
      'true: build each release as a hard-linked copy of the upload cache instead of a full copy. Much faster for big trees, but only safe if the app never writes into files of its release (a write would change older releases too).',
    default: 'false'
  },
  {
    name: 'compression',
    description: 'Compression on the wire: auto (zstd, else gzip, whichever both ends have), zstd, gzip or none.',
    default: 'auto'
  },
  {
    name: 'lock-timeout',
    description: 'Seconds to wait for a deploy lock held by another run; 0 fails at once.',
    default: '0'
  },
  {
    name: 'retries',
    description: 'Further connection attempts after a transient network failure (refused, timed out, reset), with backoff.',
    default: '2'
  },
  {
    name: 'max-parallel',
    description: 'With several hosts: at most this many are worked on at once.',
    default: '10'
  },
  {
    name: 'before-activate-on',
    description: 'With several hosts: all (default), or first, to run before-activate (a migration) on the first host only.',
    default: 'all'
  },
  {
    name: 'proxy-host',
    description: 'Jump host (bastion), host[:port]. The connection to each server is tunnelled through it; no ssh binary is needed on the runner.'
  },
  {
    name: 'proxy-username',
    description: 'SSH user on the jump host (default: username).'
  },
  {
    name: 'proxy-ssh-key',
    description: 'Private key for the jump host, from a secret.',
    secret: true,
    file: true
  },
  {
    name: 'proxy-ssh-key-passphrase',
    description: 'Passphrase of proxy-ssh-key.',
    secret: true,
    file: true
  },
  {
    name: 'proxy-password',
    description: 'Password for the jump host, when no proxy-ssh-key is given.',
    secret: true,
    file: true
  },
  {
    name: 'proxy-known-hosts',
    description: 'known_hosts lines for the jump host; its key is checked like the target key.',
    lines: true,
    file: true
  },
  {
    name: 'proxy-host-fingerprint',
    description: 'SHA256 fingerprint of the jump host key, after its key type or not, as host-fingerprint.'
  },
  {
    name: 'proxy-strict-host-key',
    description: 'false skips host key checking of the jump host, with a warning.',
    default: 'true'
  },
  {
    name: 'shared-auto',
    description:
      'true: also link every entry of the server shared/ folder into the release with the same structure, descending into folders the release also has (as DeployHQ does).',
    default: 'false',
    kind: 'switch'
  },
  {
    name: 'compression-level',
    description: 'Compression level: zstd 1-19, gzip 1-9. Default: 3 for zstd, 1 for gzip, the fast end, which npm run bench shows is where the time is saved.'
  },
  {
    name: 'dry-run',
    description: 'true: connect, print the plan (hosts, release id, files and bytes, releases that would be pruned) and the exact remote scripts, and change nothing.',
    default: 'false',
    kind: 'switch'
  },
  {
    name: 'connect-timeout',
    description: 'Seconds to wait for the SSH connection and handshake.',
    default: '30'
  }
]

/** The input of that name; throws for a name the spec does not list (a mistake in the code, not in the input). */
export function inputSpec(name: string): InputSpec {
  const input = INPUTS.find((candidate) => candidate.name === name)
  if (!input) throw new Error(`No input named '${name}' in src/config/input-spec.ts.`)
  return input
}

/** The default of an input that has one; throws for one that has none, so every default lives in INPUTS. */
export function inputDefault(name: string): string {
  const value = inputSpec(name).default
  if (value === undefined) throw new Error(`Input '${name}' has no default in src/config/input-spec.ts.`)
  return value
}

export const isSwitch = (input: InputSpec): boolean => input.kind === 'switch'

export const OUTPUTS: Array<{ name: string; description: string }> = [
  { name: 'release-id', description: 'The release now current.' },
  { name: 'release-path', description: 'Absolute path of that release on the server.' },
  {
    name: 'previous-release-id',
    description: 'deploy and rollback: the release that was current before this run (empty on a first deploy). list and unlock: the release a rollback would go to.'
  },
  { name: 'releases', description: 'JSON array of the releases on the server, newest first: id, created, sha, actor, run, current, bad.' },
  {
    name: 'results',
    description:
      'JSON array, one entry per host: host, releaseId, previousReleaseId, status (deployed, not-switched, reverted, unhealthy, bad, failed, ...), error, seconds, healthSeconds (when a health check ran), bytesUploaded.'
  }
]
