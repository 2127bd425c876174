import type { Command } from 'commander';
import { findOverdueOrders } from '../db/orders-repo';
import { sweepOverdueOrders } from '../jobs/sweeper';
import { cliConfig, cliDatabase, printTable } from './cli-context';

export function sweepCommand(program: Command): void {
  program
    .command('sweep')
    .description('close every PENDING_PAYMENT order past its deadline now (source cli)')
    .option('--dry-run', 'list what would be closed, change nothing')
    .option('--json', 'print JSON')
    .action(async (opts: { dryRun?: boolean; json?: boolean }) => {
      const config = cliConfig();
      const db = await cliDatabase(config, { multipleStatements: true });
      try {
        const now = () => new Date();
        const orders = opts.dryRun
          ? await findOverdueOrders(db, now(), 100_000)
          : await sweepOverdueOrders({
              db,
              now,
              graceMs: 0,
              batchSize: config.sweeper.batchSize,
              source: 'cli',
              // Left unclaimed: a running service's relay publishes the `closed` events within a second.
              events: config.events.enabled ? { owner: 'cli', claimForMs: 0 } : undefined,
            });
        const rows = orders.map((o) => ({ orderId: o.id, expiresAt: o.expiresAt.toISOString() }));
        if (opts.json)
          process.stdout.write(
            `${JSON.stringify({ dryRun: !!opts.dryRun, count: rows.length, orders: rows }, null, 2)}\n`,
          );
        else {
          if (rows.length > 0) printTable(rows, ['orderId', 'expiresAt']);
          process.stdout.write(`${opts.dryRun ? 'would close' : 'closed'} ${rows.length} overdue order(s)\n`);
        }
      } finally {
        await db.destroy();
      }
    });
}
