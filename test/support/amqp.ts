import amqp, { type ChannelModel, type ConfirmChannel, type GetMessage, type Options } from 'amqplib';

/** Runs `fn` with a confirm channel on its own connection to `url`, then closes both. */
export async function withChannel<T>(url: string, fn: (ch: ConfirmChannel) => Promise<T>): Promise<T> {
  const conn: ChannelModel = await amqp.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Publishes raw bytes and waits for the broker's confirm. */
export async function publishRaw(
  url: string,
  exchange: string,
  routingKey: string,
  body: Buffer | string,
  props: Options.Publish = {},
): Promise<void> {
  await withChannel(url, async (ch) => {
    ch.publish(exchange, routingKey, Buffer.isBuffer(body) ? body : Buffer.from(body), { persistent: true, ...props });
    await ch.waitForConfirms();
  });
}

/**
 * Takes every message off a queue. No-ack gets: a quorum queue may take back messages acknowledged just before
 * a channel closes (rabbitmq-server#10327), which would make them reappear.
 */
export async function drainQueue(url: string, queue: string): Promise<GetMessage[]> {
  return withChannel(url, async (ch) => {
    const out: GetMessage[] = [];
    for (;;) {
      const msg = await ch.get(queue, { noAck: true });
      if (!msg) return out;
      out.push(msg);
    }
  });
}

/** Message count of a queue, from a passive declare. */
export async function queueDepth(url: string, queue: string): Promise<number> {
  return withChannel(url, async (ch) => (await ch.checkQueue(queue)).messageCount);
}
