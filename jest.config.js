/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest'],
    // node-config 5 ships ES modules (config.mjs, util.js with import/export); Node 20 loads them through
    // require(esm), but Jest's module runtime cannot before Node 24.9, so compile them to CommonJS for tests.
    '^.+/node_modules/config/.+\\.m?js$': ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!config/)'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Each test file gets its own database and vhost, so files may run side by side.
  maxWorkers: 2,
  testTimeout: 60_000,
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
};
