/** @type {import('jest').Config} */
const common = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest'],
    // node-config 5 ships ES modules (config.mjs, util.js with import/export); Node 20 loads them through
    // require(esm), but Jest's module runtime cannot before Node 24.9, so compile them to CommonJS for tests.
    '^.+/node_modules/config/.+\\.m?js$': ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!config/)'],
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
};

module.exports = {
  // Each parallel test file gets its own database and vhost. Disruptive tests stop the shared MariaDB or
  // RabbitMQ, so they run alone, one file at a time, after the others (see the npm test script).
  projects: [
    {
      ...common,
      displayName: 'parallel',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/integration/**/*.test.ts'],
    },
    { ...common, displayName: 'disruptive', testMatch: ['<rootDir>/test/disruptive/**/*.test.ts'] },
    // npm run test:faults: each scenario injects one fault and prints a line of counts (test/faults/support).
    {
      ...common,
      displayName: 'faults',
      testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
      globalSetup: '<rootDir>/test/faults/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/faults/support/global-teardown.ts',
    },
  ],
  maxWorkers: 2,
  testTimeout: 60_000,
};
