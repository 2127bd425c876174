import type { ChannelModel, ConfirmChannel } from 'amqplib';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { redactUrlList } from '../broker-urls';
import type { AppConfig } from '../config';
import { connectFirst } from '../messaging/broker';
import { errorMessage } from '../log';
import {
  describeDeadLetter,
  matchesFilter,
  letAcksSettle,
  moveBack,
  peekQueue,
  returnInOrder,
  type DeadLetter,
} from '../messaging/dead-letters';
import { PARKED_QUEUE, TIMEOUT_QUEUE, WEBHOOK_PARKED_QUEUE } from '../messaging/topology';
import { cliConfig, CliError, printTable } from './cli-context';

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return n;
};
const collect = (value: string, previous: string[]) => [...previous, value];

/** Opens a confirm channel on `queue`'s vhost and checks the queue exists; failures are one-line CLI errors. */
async function openQueue(
  config: AppConfig,
  queue: string,
): Promise<{ conn: ChannelModel; channel: ConfirmChannel; ready: number }> {
  let conn: ChannelModel;
  try {
    conn = await connectFirst(config.amqp.urls);
  } catch (err) {
    throw new CliError(`broker unreachable at ${redactUrlList(config.amqp.url)}: ${errorMessage(err)}`);
  }
  conn.on('error', () => undefined);
  const channel = await conn.createConfirmChannel();
  channel.on('error', () => undefined);
  try {
    const { messageCount } = await channel.checkQueue(queue);
    return { conn, channel, ready: messageCount };
  } catch (err) {
    await conn.close().catch(() => undefined);
    throw new CliError(
      /404|NOT_FOUND/.test(errorMessage(err))
        ? `unknown queue ${queue}`
        : `cannot read queue ${queue}: ${errorMessage(err)}`,
    );
  }
}

/** Closing the channel returns every message still unacknowledged to its queue (in any order: see returnInOrder). */
async function close(conn: ChannelModel, channel: ConfirmChannel): Promise<void> {
  await channel.close().catch(() => undefined);
  await conn.close().catch(() => undefined);
}

const rowOf = (d: DeadLetter) => ({
  orderId: d.orderId ?? '-',
  reason: d.reason ?? '-',
  attempts: d.attempts ?? '-',
  parkedAt: d.parkedAt ?? '-',
  firstDeath: d.firstDeath ? `${d.firstDeath.queue}: ${d.firstDeath.reason}` : '-',
  messageId: d.messageId ?? '-',
  url: d.url ?? '-',
});

/** The table's columns; `url` only when a webhook delivery is among the letters. */
const columnsFor = (letters: readonly DeadLetter[], base: string[]) =>
  letters.some((d) => d.url !== null) ? [...base, 'url'] : base;

export function deadLettersCommand(program: Command): void {
  const dl = program
    .command('dead-letters')
    .description(`parked messages (${PARKED_QUEUE}, ${WEBHOOK_PARKED_QUEUE}): list them, move them back`);

  dl.command('list')
    .description('show parked messages without removing them')
    .option('--queue <queue>', 'queue to read', PARKED_QUEUE)
    .option('--limit <n>', 'most messages to show', positiveInt, 1000)
    .option('--json', 'print JSON')
    .action(async (opts: { queue: string; limit: number; json?: boolean }) => {
      const config = cliConfig();
      const { conn, channel, ready } = await openQueue(config, opts.queue);
      try {
        const fetched = await peekQueue(channel, opts.queue, opts.limit);
        await returnInOrder(channel, opts.queue, fetched);
        const letters = fetched.map(describeDeadLetter);
        if (opts.json) {
          process.stdout.write(
            `${JSON.stringify({ queue: opts.queue, total: ready, shown: letters.length, messages: letters }, null, 2)}\n`,
          );
        } else {
          if (letters.length > 0)
            printTable(
              letters.map(rowOf),
              columnsFor(letters, ['orderId', 'reason', 'attempts', 'parkedAt', 'firstDeath', 'messageId']),
            );
          process.stdout.write(`${letters.length} of ${ready} message(s) in ${opts.queue}\n`);
        }
      } finally {
        await close(conn, channel);
      }
    });

  dl.command('replay')
    .description(
      `move matching messages back to ${TIMEOUT_QUEUE}, or from ${WEBHOOK_PARKED_QUEUE} to their webhook URL's queue (each copy confirmed before the original is removed)`,
    )
    .option('--queue <queue>', 'queue to replay from', PARKED_QUEUE)
    .option('--order-id <id>', 'only this order (repeatable)', collect, [])
    .option('--reason <text>', 'only messages whose reason contains this text (case-insensitive)')
    .option('--limit <n>', 'most messages to move', positiveInt)
    .option('--dry-run', 'say what would move, move nothing')
    .option('--json', 'print the summary as JSON')
    .action(
      async (opts: {
        queue: string;
        orderId: string[];
        reason?: string;
        limit?: number;
        dryRun?: boolean;
        json?: boolean;
      }) => {
        const config = cliConfig();
        const { conn, channel, ready } = await openQueue(config, opts.queue);
        let summary;
        try {
          // Only what is there now: messages parked while the replay runs are left for the next one.
          const fetched = await peekQueue(channel, opts.queue, ready);
          const matching = fetched
            .map((msg) => ({ msg, letter: describeDeadLetter(msg) }))
            .filter(({ letter }) => matchesFilter(letter, { orderIds: opts.orderId, reason: opts.reason }))
            .slice(0, opts.limit ?? Number.POSITIVE_INFINITY);
          const base = {
            queue: opts.queue,
            examined: fetched.length,
            matched: matching.length,
            skipped: fetched.length - matching.length,
          };
          if (opts.dryRun) {
            summary = {
              ...base,
              dryRun: true as const,
              moved: 0,
              failed: 0,
              wouldMove: matching.map(({ letter }) => rowOf(letter)),
            };
            await returnInOrder(channel, opts.queue, fetched);
          } else {
            const bar =
              process.stderr.isTTY && matching.length > 0
                ? new cliProgress.SingleBar(
                    { stream: process.stderr, format: 'replaying [{bar}] {value}/{total}' },
                    cliProgress.Presets.shades_classic,
                  )
                : undefined;
            bar?.start(matching.length, 0);
            const result = await moveBack(
              channel,
              matching.map((m) => m.msg),
              opts.queue,
              (p) => bar?.update(p.moved + p.failed),
            );
            bar?.stop();
            // What stays parked (not matching, or failed to move) goes back in its order.
            const moving = new Set(matching.map((m) => m.msg));
            const unmoved = new Set(result.unmoved);
            await returnInOrder(
              channel,
              opts.queue,
              fetched.filter((m) => !moving.has(m) || unmoved.has(m)),
            );
            if (result.moved > 0) await letAcksSettle(channel, opts.queue);
            summary = {
              ...base,
              dryRun: false as const,
              moved: result.moved,
              failed: result.failed,
              errors: result.errors.slice(0, 20),
            };
          }
        } finally {
          await close(conn, channel);
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        else if (summary.dryRun) {
          if (summary.wouldMove.length > 0)
            printTable(summary.wouldMove, ['orderId', 'reason', 'attempts', 'parkedAt', 'messageId']);
          process.stdout.write(
            `dry run: would move ${summary.matched}, skip ${summary.skipped} (of ${summary.examined} in ${summary.queue})\n`,
          );
        } else {
          process.stdout.write(
            `moved ${summary.moved}, skipped ${summary.skipped}, failed ${summary.failed} (of ${summary.examined} in ${summary.queue})\n`,
          );
          for (const e of summary.errors) process.stderr.write(`order-timeout: ${e}\n`);
        }
        if (!summary.dryRun && summary.failed > 0) process.exitCode = 1;
      },
    );
}
