import { DeploySettings, HealthSettings } from '../../src/config/settings'

/** Deploy settings for the fleet's fast tests: hosts h1..hN over fake connections, every feature off unless `overrides` turns it on. */
export function fakeDeploySettings(sourceDir: string, hosts: number, overrides: Partial<DeploySettings> = {}): DeploySettings {
  return {
    mode: 'deploy',
    targets: Array.from({ length: hosts }, (_, i) => ({ host: `h${i + 1}`, port: 22 })),
    credentials: { username: 'deploy', password: 'x' },
    hostKey: { mode: 'fingerprint', fingerprint: 'SHA256:x' },
    maxParallel: 10,
    beforeActivateOn: 'all',
    connectTimeoutSeconds: 5,
    retries: 0,
    deployPath: '/srv/app',
    sourceDir,
    exclude: [],
    allowEmpty: false,
    releaseId: 'r3',
    releaseIdGiven: true,
    keep: 5,
    shared: [],
    sharedAuto: false,
    writable: { paths: [], mode: 'acl', user: '' },
    dryRun: false,
    beforeActivate: '',
    afterActivate: '',
    revertOnFailure: true,
    commandTimeoutSeconds: 0,
    compression: 'none',
    incremental: false,
    hardlinkReleases: false,
    lockTimeoutSeconds: 0,
    provenance: { runner: 'test' },
    ...overrides
  }
}

/** A health check of one URL that expects the release id, as the fast tests use it. */
export const FAKE_HEALTH: HealthSettings = {
  urls: ['http://127.0.0.1/health'],
  command: '',
  expect: '{release-id}',
  status: [[200, 399]],
  timeoutSeconds: 3,
  intervalSeconds: 1
}
