#!/usr/bin/env node
// Runs the built CLI (dist/, from `npm run build`) when there is one, else the TypeScript sources through tsx.
// A build older than the sources in a checkout is skipped, so an edit is never hidden behind a stale dist/
// (which could, say, miss a new migration).
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const built = path.join(root, 'dist', 'cli', 'main.js');
const sources = path.join(root, 'src');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(file) : fs.statSync(file).mtimeMs);
  }
  return newest;
}

function hasTsx() {
  try {
    require.resolve('tsx/cjs');
    return true;
  } catch {
    return false;
  }
}

const builtAt = fs.existsSync(built) ? fs.statSync(built).mtimeMs : undefined;
const stale = builtAt !== undefined && fs.existsSync(sources) && newestMtime(sources) > builtAt && hasTsx();

if (builtAt !== undefined && !stale) {
  require(built);
} else {
  require('tsx/cjs');
  require(path.join(sources, 'cli', 'main.ts'));
}
