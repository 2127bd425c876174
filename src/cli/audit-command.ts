import type { Command } from 'commander';
import { parseDuration } from '../domain/duration';
import { findOverdueOrders } from '../db/orders-repo';
import { auditStock } from '../jobs/audit';
import { cliConfig, cliDatabase, CliError, printTable } from './cli-context';

export function auditCommand(program: Command): void {
  program
    .command('audit')
    .description('check stock conservation and that no order is pending past its deadline (exit 1 when not)')
    .option('--grace <duration>', 'how overdue a pending order may be before it counts', '1m')
    .option('--json', 'print JSON')
    .action(async (opts: { grace: string; json?: boolean }) => {
      let graceMs: number;
      try {
        graceMs = parseDuration(opts.grace);
      } catch (err) {
        throw new CliError(`--grace: ${(err as Error).message}`);
      }
      const config = cliConfig();
      const db = await cliDatabase(config);
      try {
        const stock = await auditStock(db);
        const overdue = await findOverdueOrders(db, new Date(Date.now() - graceMs), 1000);
        const ok = stock.length === 0 && overdue.length === 0;
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ok, stockMismatches: stock, overduePending: overdue }, null, 2)}\n`);
        } else {
          if (stock.length > 0) {
            process.stdout.write('stock not conserved (stock + held + sold should equal received):\n');
            printTable(stock as unknown as Record<string, unknown>[], [
              'productId',
              'sku',
              'stock',
              'held',
              'sold',
              'received',
              'difference',
            ]);
          }
          if (overdue.length > 0) {
            process.stdout.write(`pending orders overdue by more than ${opts.grace}:\n`);
            printTable(
              overdue.map((o) => ({ orderId: o.id, expiresAt: o.expiresAt.toISOString() })),
              ['orderId', 'expiresAt'],
            );
          }
          if (ok) process.stdout.write('audit passed: stock conserved, no overdue pending orders\n');
        }
        if (!ok) process.exitCode = 1;
      } finally {
        await db.destroy();
      }
    });
}
