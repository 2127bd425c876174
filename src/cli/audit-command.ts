import type { Command } from 'commander';
import { parseDuration } from '../domain/duration';
import { runAudit } from '../jobs/audit';
import { cliConfig, cliDatabase, CliError, printTable } from './cli-context';

export function auditCommand(program: Command): void {
  program
    .command('audit')
    .description(
      'check that everything orders hold adds up (stock, promotion quota, coupons, points), that payments match their orders, and that no order is pending past its deadline (exit 1 when not)',
    )
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
        const report = await runAudit(db, new Date(), graceMs);
        if (opts.json) {
          const byKind = Object.fromEntries(report.kinds.map((k) => [`${k.kind}Mismatches`, k.mismatches]));
          const json = {
            ok: report.ok,
            ...byKind,
            paymentMismatches: report.payments.mismatches,
            overduePending: report.overduePending,
          };
          process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
        } else {
          for (const k of [...report.kinds, report.payments].filter((found) => found.mismatches.length > 0)) {
            process.stdout.write(`${k.rule}:\n`);
            printTable(k.mismatches, k.columns);
          }
          if (report.overduePending.length > 0) {
            process.stdout.write(`pending orders overdue by more than ${opts.grace}:\n`);
            printTable(
              report.overduePending.map((o) => ({ orderId: o.id, expiresAt: o.expiresAt.toISOString() })),
              ['orderId', 'expiresAt'],
            );
          }
          if (report.ok)
            process.stdout.write(
              `audit passed: ${report.kinds.map((k) => k.kind).join(', ')} add up; payments match their orders; no overdue pending orders\n`,
            );
        }
        if (!report.ok) process.exitCode = 1;
      } finally {
        await db.destroy();
      }
    });
}
