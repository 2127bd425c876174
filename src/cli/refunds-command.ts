import type { Command } from 'commander';
import { listPayments, markRefunded } from '../db/payments-repo';
import { cliConfig, cliDatabase, CliError, printTable } from './cli-context';

/** `order-timeout refunds list|mark-refunded`: the payments kept for a refund, and saying one was refunded. */
export function refundsCommand(program: Command): void {
  const refunds = program
    .command('refunds')
    .description('payments that could not be kept (order cancelled, paid already, timed out) and must be refunded');

  refunds
    .command('list')
    .description('list the payments waiting for a refund (REFUND_REQUIRED), oldest first')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const db = await cliDatabase(cliConfig());
      try {
        const rows = (await listPayments(db, { status: 'REFUND_REQUIRED', limit: 100_000 })).map((p) => ({
          paymentRef: p.paymentRef,
          orderId: p.orderId,
          amountCents: p.amountCents,
          reason: p.reason,
          receivedAt: p.receivedAt.toISOString(),
        }));
        if (opts.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        else {
          if (rows.length > 0) printTable(rows, ['paymentRef', 'orderId', 'amountCents', 'reason', 'receivedAt']);
          const cents = rows.reduce((sum, r) => sum + r.amountCents, 0);
          process.stdout.write(`${rows.length} payment(s) to refund, ${cents} cents in all\n`);
        }
      } finally {
        await db.destroy();
      }
    });

  refunds
    .command('mark-refunded')
    .description('record that a REFUND_REQUIRED payment was refunded (exit 1 when it is not one)')
    .argument('<paymentRef>', 'the payment reference')
    .action(async (paymentRef: string) => {
      const db = await cliDatabase(cliConfig());
      try {
        const { changed, payment } = await markRefunded(db, paymentRef, new Date());
        if (!payment) throw new CliError(`no payment ${paymentRef}`, 1);
        if (!changed && payment.status === 'REFUNDED') {
          process.stdout.write(`payment ${paymentRef} was already refunded at ${payment.refundedAt!.toISOString()}\n`);
          return;
        }
        if (!changed) throw new CliError(`payment ${paymentRef} is ${payment.status}, not REFUND_REQUIRED`, 1);
        process.stdout.write(
          `payment ${paymentRef} (order ${payment.orderId}, ${payment.amountCents} cents) marked REFUNDED\n`,
        );
      } finally {
        await db.destroy();
      }
    });
}
