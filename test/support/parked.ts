import type { GetMessage } from 'amqplib';
import { parseDelayLevels } from '../../src/domain/delay-plan';
import { peekQueue, returnInOrder } from '../../src/messaging/dead-letters';
import { assertTopology, buildTopology, PARKED_QUEUE } from '../../src/messaging/topology';
import { drainQueue, withChannel } from './amqp';
import { deleteVhost, scratchVhost } from './scratch';

/**
 * A scratch vhost with the service's topology declared by hand and no service running, so nothing consumes
 * `order.timeout` and a test can look at what arrives there.
 */
export async function topologyVhost(): Promise<{ vhost: string; url: string; destroy(): Promise<void> }> {
  const { vhost, url } = await scratchVhost();
  await withChannel(url, (ch) =>
    assertTopology(ch, buildTopology({ levels: parseDelayLevels('1s,2s,5s'), deliveryLimit: 5 })),
  );
  return { vhost, url, destroy: () => deleteVhost(vhost) };
}

export interface ParkedSpec {
  messageId: string;
  orderId: string;
  reason: string;
  attempt?: number;
}

/** Publishes messages straight into the parked queue, as the closer would have parked them. */
export async function parkMessages(url: string, specs: ParkedSpec[]): Promise<void> {
  await withChannel(url, async (ch) => {
    const parkedAt = new Date().toISOString();
    for (const s of specs) {
      const body = { orderId: s.orderId, expiresAt: '2026-01-01T00:00:00.000Z', attempt: s.attempt ?? 3 };
      ch.sendToQueue(PARKED_QUEUE, Buffer.from(JSON.stringify(body)), {
        persistent: true,
        contentType: 'application/json',
        messageId: s.messageId,
        headers: { 'x-park-reason': s.reason, 'x-parked-at': parkedAt, 'x-parked-from': 'order.timeout' },
      });
    }
    await ch.waitForConfirms();
  });
}

/**
 * Every message in a queue, in order, without removing any: fetched unacknowledged, then put back in
 * order. Use only on queues with no consumer.
 */
export async function peekAll(url: string, queue: string): Promise<GetMessage[]> {
  return withChannel(url, async (ch) => {
    const out = await peekQueue(ch, queue, Number.POSITIVE_INFINITY);
    // Closing the channel alone would return them too, but not in order.
    await returnInOrder(ch, queue, out);
    return out;
  });
}

export const messageIds = (msgs: GetMessage[]) => msgs.map((m) => String(m.properties.messageId));

/** Takes every message off a queue (no-ack gets: nothing comes back afterwards). */
export const takeAll = drainQueue;
