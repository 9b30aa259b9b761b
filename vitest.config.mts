import { defineConfig } from 'vitest/config'

// Hang guards, not speed checks: a busy 2-core machine may take several times the usual.
const shared = { testTimeout: 120_000, hookTimeout: 120_000 }

const LOAD_TESTS = ['__tests__/e2e/zero-downtime.test.ts']
const STACK_TESTS = ['__tests__/e2e/php-fpm.test.ts', '__tests__/e2e/pm2.test.ts']

export default defineConfig({
  test: {
    // One temporary folder for the whole run, removed at its end (see the file).
    globalSetup: ['__tests__/support/global-setup.ts'],
    // End-to-end files each start their own sshd; two at a time suits a 2-core machine.
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'main', include: ['__tests__/**/*.test.ts'], exclude: [...LOAD_TESTS, ...STACK_TESTS], sequence: { groupOrder: 0 } } },
      // The load test uses both cores for half a minute: it runs alone, after the rest.
      { test: { ...shared, name: 'load', include: LOAD_TESTS, sequence: { groupOrder: 1 } } },
      // The stack tests load a real app server for about a minute each: after the load test, side by side.
      { test: { ...shared, name: 'stacks', include: STACK_TESTS, sequence: { groupOrder: 2 } } }
    ]
  }
})
