import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Command } from 'commander';
import { redactUrlList } from '../broker-urls';
import { connectFirst } from '../messaging/broker';
import { EVENT_KINDS, EVENTS_EXCHANGE } from '../domain/order-event-types';
import { errorMessage } from '../log';
import { cliConfig, CliError } from './cli-context';

const collect = (value: string, previous: string[]) => [...previous, value];

/** An event in structured CloudEvents JSON form. */
export interface StructuredEvent {
  specversion?: string;
  id?: string;
  source?: string;
  type?: string;
  subject?: string;
  time?: string;
  sequence?: string;
  datacontenttype?: string;
  data: unknown;
}

/** A received event as structured CloudEvents JSON (what `--json` prints, one per line). */
export function structuredEvent(msg: ConsumeMessage): StructuredEvent {
  const h = msg.properties.headers ?? {};
  const text = msg.content.toString('utf8');
  let data: unknown = text;
  try {
    data = JSON.parse(text);
  } catch {
    /* not JSON: shown as the text it is */
  }
  const attr = (name: string) =>
    h[`cloudEvents_${name}`] === undefined ? undefined : String(h[`cloudEvents_${name}`]);
  return {
    specversion: attr('specversion'),
    id: attr('id'),
    source: attr('source'),
    type: attr('type'),
    subject: attr('subject'),
    time: attr('time'),
    sequence: attr('sequence'),
    datacontenttype: msg.properties.contentType as string | undefined,
    data,
  };
}

/** One line for people: time, type, order id, status, sequence. */
export function eventLine(e: StructuredEvent): string {
  const status = String((e.data as { status?: string } | null)?.status ?? '-');
  return [
    e.time ?? '-',
    (e.type ?? '-').padEnd(21),
    `order ${e.subject ?? '-'}`,
    status,
    `#${Number(e.sequence)}`,
  ].join('  ');
}

/** Connects and checks the exchange exists; failures are one-line CLI errors. */
async function openEvents(urls: readonly string[]): Promise<{ conn: ChannelModel; channel: Channel }> {
  const url = urls.join(',');
  let conn: ChannelModel;
  try {
    conn = await connectFirst(urls);
  } catch (err) {
    throw new CliError(`broker unreachable at ${redactUrlList(url)}: ${errorMessage(err)}`);
  }
  conn.on('error', () => undefined);
  const channel = await conn.createChannel();
  channel.on('error', () => undefined);
  try {
    await channel.checkExchange(EVENTS_EXCHANGE);
  } catch (err) {
    await conn.close().catch(() => undefined);
    throw new CliError(
      /404|NOT_FOUND/.test(errorMessage(err))
        ? `no exchange ${EVENTS_EXCHANGE} on ${redactUrlList(url)}: start the service once (it declares it) or load rabbitmq-definitions.json`
        : `cannot read exchange ${EVENTS_EXCHANGE}: ${errorMessage(err)}`,
    );
  }
  return { conn, channel };
}

/**
 * `order-timeout events tail`: prints order events as they are published, from a queue of its own (exclusive,
 * deleted when the command ends) bound to `order.events`. It sees only what is published while it runs.
 */
export function eventsCommand(program: Command): void {
  const events = program.command('events').description('order events published on order.events (contract §9)');
  events
    .command('tail')
    .description('print events as they are published, until Ctrl-C or SIGTERM (exit 0)')
    .option('--type <type>', `only this type (repeatable): ${EVENT_KINDS.join(', ')}`, collect, [])
    .option('--json', 'print each event as structured CloudEvents JSON, one per line')
    .action(async (opts: { type: string[]; json?: boolean }) => {
      const unknown = opts.type.filter((t) => !EVENT_KINDS.includes(t));
      if (unknown.length > 0) throw new CliError(`unknown event type ${unknown[0]} (one of ${EVENT_KINDS.join(', ')})`);
      const config = cliConfig();
      const { conn, channel } = await openEvents(config.amqp.urls);
      // Named under order.… so the service's least-privilege user may declare and bind it.
      const queue = `${EVENTS_EXCHANGE}.tail.${os.hostname()}.${process.pid}.${randomBytes(3).toString('hex')}`;
      await channel.assertQueue(queue, { exclusive: true, autoDelete: true, durable: false });
      for (const key of opts.type.length > 0 ? opts.type : ['#']) await channel.bindQueue(queue, EVENTS_EXCHANGE, key);
      await channel.consume(
        queue,
        (msg) => {
          if (!msg) return;
          const e = structuredEvent(msg);
          process.stdout.write(`${opts.json ? JSON.stringify(e) : eventLine(e)}\n`);
        },
        { noAck: true },
      );
      process.stderr.write(
        `tailing ${EVENTS_EXCHANGE} (${opts.type.length > 0 ? opts.type.join(', ') : 'all types'}); Ctrl-C to stop\n`,
      );
      await new Promise<void>((resolve, reject) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        conn.once('close', () => reject(new CliError('broker connection lost', 1)));
      });
      await conn.close().catch(() => undefined);
    });
}
