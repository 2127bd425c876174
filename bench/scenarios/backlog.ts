import { bullmqBacklog } from '../peers';
import { rawCloseBatched, rawClosePerOrder, rawPollingDrain } from '../raw-baselines';
import { createScratch, log, publishDue, seedOrders, seedProducts, startServiceProcess, waitFor } from '../support';

export interface BacklogResult {
  orders: number;
  serviceClosesPerSecond: number;
  rawPerOrderClosesPerSecond: number;
  rawBatchedClosesPerSecond: number;
  rawBatchedSeconds: number;
  /** The polling peer (4 lanes, 500 a transaction, SKIP LOCKED) on the same number of due orders. */
  pollingPeerClosesPerSecond: number;
  /** The BullMQ peer (a job per order, 8 at a time) on the same number of due orders. */
  bullmqPeerClosesPerSecond: number;
}

/**
 * 1. Backlog drain: N due orders already waiting in order.timeout, against raw SQL doing the same closes and the
 * polling peer draining N due orders of its own first (alone in the table then, as it would be in its own shop).
 */
export async function backlogDrain(n: number): Promise<BacklogResult> {
  const scratch = await createScratch(8);
  try {
    await seedProducts(scratch.pool, 'general');
    const past = new Date(Date.now() - 1000);
    log(`backlog: seeding ${n} due orders for the polling peer; it drains them (4 lanes, 500 a transaction)`);
    await seedOrders(scratch.pool, { firstId: 3_000_001, count: n, expiresAt: past });
    await rawPollingDrain(scratch.pool);
    // Timed as the service is: first close to last, as the database recorded them.
    const [peerSpan] = await scratch.pool.query(
      'SELECT TIMESTAMPDIFF(MICROSECOND, MIN(closed_at), MAX(closed_at)) AS us FROM orders WHERE id > 3000000',
    );
    const pollingSeconds = Math.max(Number((peerSpan as { us: number }[])[0]!.us) / 1e6, 0.001);
    log(`backlog: seeding 3 × ${n} due orders`);
    const serviceIds = await seedOrders(scratch.pool, { firstId: 1, count: n, expiresAt: past });
    const perOrderIds = await seedOrders(scratch.pool, { firstId: 1_000_001, count: n, expiresAt: past });
    const batchedIds = await seedOrders(scratch.pool, { firstId: 2_000_001, count: n, expiresAt: past });

    log('backlog: raw per-order closes, 8 connections');
    const perOrderSeconds = await rawClosePerOrder(scratch.pool, perOrderIds);
    log('backlog: raw batched closes (200 a transaction), 8 connections');
    const batchedSeconds = await rawCloseBatched(scratch.pool, batchedIds);

    log(`backlog: publishing ${n} due messages into order.timeout`);
    await publishDue(scratch.amqpUrl, serviceIds, past);
    const started = Date.now();
    const service = await startServiceProcess(scratch);
    await waitFor(
      'backlog drain',
      async () => {
        const [rows] = await scratch.pool.query(
          "SELECT COUNT(*) AS n FROM orders WHERE id <= ? AND status = 'CLOSED'",
          [n],
        );
        const closed = Number((rows as { n: number }[])[0]!.n);
        return { done: closed === n, progress: `${closed}/${n} closed` };
      },
      600_000,
    );
    // From the first close to the last, as the database recorded them: start-up is not counted.
    const [span] = await scratch.pool.query(
      'SELECT TIMESTAMPDIFF(MICROSECOND, MIN(closed_at), MAX(closed_at)) AS us FROM orders WHERE id <= ?',
      [n],
    );
    const serviceSeconds = Math.max(Number((span as { us: number }[])[0]!.us) / 1e6, 0.001);
    log(
      `backlog: service drained ${n} in ${serviceSeconds.toFixed(2)} s (wall ${((Date.now() - started) / 1000).toFixed(1)} s with start-up)`,
    );
    await service.stop();
    // After the service: its drain would close any due order, the peer's too.
    const bullmqPeerClosesPerSecond = await bullmqBacklog(scratch.pool, n, 4_000_001);
    return {
      orders: n,
      serviceClosesPerSecond: n / serviceSeconds,
      rawPerOrderClosesPerSecond: n / perOrderSeconds,
      rawBatchedClosesPerSecond: n / batchedSeconds,
      rawBatchedSeconds: batchedSeconds,
      pollingPeerClosesPerSecond: n / pollingSeconds,
      bullmqPeerClosesPerSecond,
    };
  } finally {
    await scratch.destroy();
  }
}
