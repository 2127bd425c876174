#!/usr/bin/env node
// Runs the TypeScript CLI directly (tsx), from a checkout or an installed package.
require('tsx/cjs');
require('../src/cli/main.ts');
