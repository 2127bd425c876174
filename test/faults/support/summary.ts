import { existsSync, readFileSync, rmSync } from 'node:fs';
import { RESULTS_FILE, formatCounts, type ScenarioCounts } from './invariants';

/** Jest globalSetup / globalTeardown for the faults project: start with no results, end with the table. */
export function reset(): void {
  rmSync(RESULTS_FILE, { force: true });
}

export function printSummary(): void {
  if (!existsSync(RESULTS_FILE)) return;
  const rows = readFileSync(RESULTS_FILE, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ScenarioCounts);
  const header =
    'scenario | orders | acknowledged | closed | paid | lost | double-restock | conserved | money-conserved';
  process.stdout.write(`\nFault suite\n${header}\n${rows.map(formatCounts).join('\n')}\n`);
}
