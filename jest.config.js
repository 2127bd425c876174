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
  // Each parallel test file gets its own database and vhost on the machine's shared MariaDB and RabbitMQ.
  // Disruptive tests stop and restart servers: private ones they start themselves (test/disruptive/support),
  // never the shared ones. They still run apart, one file at a time, after the others (see the npm test
  // script): starting a RabbitMQ node or a MariaDB keeps a core busy for seconds, and they check lateness.
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
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/cluster/'],
      globalSetup: '<rootDir>/test/faults/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/faults/support/global-teardown.ts',
    },
    // npm run test:cluster: the fault scenarios on a private three-node RabbitMQ cluster, which they start (a
    // project of its own, so its table prints apart and it can run as a CI step of its own).
    {
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/faults/cluster/**/*.test.ts'],
      globalSetup: '<rootDir>/test/faults/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/faults/support/global-teardown.ts',
    },
  ],
  // Every run, whatever the projects: fails it if the shared MariaDB or RabbitMQ went down or restarted
  // meanwhile (uptimes and a held AMQP connection; test/support/shared-services-guard.ts).
  globalSetup: '<rootDir>/test/support/shared-services-setup.ts',
  globalTeardown: '<rootDir>/test/support/shared-services-teardown.ts',
  maxWorkers: 2,
  testTimeout: 60_000,
};
