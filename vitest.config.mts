import { defineConfig } from 'vitest/config'

// Hang guards, not speed checks: a busy 2-core machine may take several times the usual.
const shared = { testTimeout: 120_000, hookTimeout: 120_000 }

export default defineConfig({
  test: {
    // One temporary folder for the whole run, removed at its end (see the file).
    globalSetup: ['__tests__/support/global-setup.ts'],
    // End-to-end files each start their own sshd; two at a time suits a 2-core machine.
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'main', include: ['__tests__/**/*.test.ts'], exclude: ['__tests__/e2e/zero-downtime.test.ts'], sequence: { groupOrder: 0 } } },
      // The load test uses both cores for half a minute: it runs alone, after the rest.
      { test: { ...shared, name: 'load', include: ['__tests__/e2e/zero-downtime.test.ts'], sequence: { groupOrder: 1 } } }
    ]
  }
})
