import { DeployPlan } from '../../src/remote/plan'

/**
 * A deploy plan for tests that run the server scripts: a full upload of
 * nothing to `deployPath`, no hooks, no shared paths; each test overrides
 * what it is about.
 */
export function testDeployPlan(deployPath: string, overrides: Partial<DeployPlan> = {}): DeployPlan {
  return {
    mode: 'deploy',
    deployPath,
    releaseId: 'r1',
    keep: 5,
    listReleases: false,
    shared: [],
    sharedAuto: false,
    writable: { paths: [], mode: 'acl', user: '' },
    beforeActivate: '',
    afterActivate: '',
    commandTimeoutSeconds: 0,
    lockTimeoutSeconds: 0,
    lockToken: 'token-1',
    lockOwner: '{"token":"token-1"}',
    logFields: '"actor":"test"',
    compression: 'none',
    expectedEntries: 0,
    incremental: false,
    cacheBase: '',
    nextDigest: '',
    hardlinkRelease: false,
    controlFolder: '.atomic-deploy-control-test',
    releaseMode: 0o755,
    revisionFile: '',
    commitSha: '',
    needsHttpClient: false,
    ...overrides
  }
}
