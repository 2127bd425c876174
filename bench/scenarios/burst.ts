import { bullmqBurst } from '../peers';
import { rawBurstDeadLettering, rawPollingCron } from '../raw-baselines';
import {
  createScratch,
  log,
  percentile,
  seedOrders,
  seedProducts,
  sleep,
  startServiceProcess,
  waitFor,
  waitForScheduled,
} from '../support';

export interface BurstResult {
  orders: number;
  /** Seconds from the shared deadline until the last order was closed. */
  serviceSeconds: number;
  /** Seconds from the deadline until half were closed. */
  serviceP50Seconds: number;
  rawDeadLetterSeconds: number;
  rawBatchedSqlSeconds: number;
  /** The polling peer (every 1 s, 4 lanes × 500, SKIP LOCKED): seconds from the deadline until its last close. */
  pollingPeerSeconds: number;
  /** The BullMQ peer (a delayed job per order, 8 at a time): seconds from the deadline until its last close. */
  bullmqPeerSeconds: number;
}

/** The polling peer on N orders of its own sharing one deadline: seconds from it until the last close. */
async function pollingPeerBurst(scratch: Awaited<ReturnType<typeof createScratch>>, n: number): Promise<number> {
  // Half a second after a whole second: the peer's next poll comes 0.5 s after the deadline, the mean of a cron
  // whose phase is unrelated to the deadline.
  const deadline = new Date(Math.ceil((Date.now() + 10_000) / 1000) * 1000 + 500);
  log(`burst: polling peer, ${n} orders due at ${deadline.toISOString()}`);
  await seedOrders(scratch.pool, { firstId: 1_000_001, count: n, expiresAt: deadline });
  if (Date.now() > deadline.getTime()) throw new Error('seeding the polling peer took longer than its lead time');
  await rawPollingCron(scratch.pool, deadline);
  const [rows] = await scratch.pool.query(
    "SELECT TIMESTAMPDIFF(MICROSECOND, ?, MAX(closed_at)) / 1e6 AS s, SUM(status = 'CLOSED') AS closed FROM orders WHERE id > 1000000",
    [deadline],
  );
  const { s, closed } = (rows as { s: string; closed: string }[])[0]!;
  if (Number(closed) !== n) throw new Error(`the polling peer closed ${closed} of ${n}`);
  return Number(s);
}

/**
 * 3. Burst: N orders sharing one deadline, scheduled through the service's own outbox relay; time from the
 * deadline until the last is closed, against raw dead-lettering of N messages expiring together plus the raw
 * batched SQL time for N closes (from the backlog scenario), and against the polling peer on N orders of its own.
 */
export async function burst(n: number, rawBatchedSqlSeconds: number): Promise<BurstResult> {
  const scratch = await createScratch(8);
  try {
    await seedProducts(scratch.pool, 'general');
    const deadline = new Date(Math.ceil((Date.now() + 45_000) / 1000) * 1000);
    log(`burst: ${n} orders due at ${deadline.toISOString()}, scheduled by the relay`);
    await seedOrders(scratch.pool, { firstId: 1, count: n, expiresAt: deadline, outbox: true });
    const service = await startServiceProcess(scratch);
    await waitForScheduled(scratch.pool, 'burst scheduling', 120_000);
    if (Date.now() > deadline.getTime()) throw new Error('scheduling took longer than the lead time; raise it');
    await sleep(deadline.getTime() - Date.now());
    await waitFor(
      'burst closes',
      async () => {
        const [rows] = await scratch.pool.query("SELECT COUNT(*) AS n FROM orders WHERE status = 'CLOSED'");
        const closed = Number((rows as { n: number }[])[0]!.n);
        return { done: closed === n, progress: `${closed}/${n} closed` };
      },
      300_000,
    );
    const [rows] = await scratch.pool.query(
      'SELECT TIMESTAMPDIFF(MICROSECOND, expires_at, closed_at) / 1e6 AS s FROM orders ORDER BY s',
    );
    const secs = (rows as { s: string }[]).map((r) => Number(r.s));
    await service.stop();
    log(`burst: raw baseline, ${n} messages dead-lettered at one instant`);
    const rawDeadLetterSeconds = await rawBurstDeadLettering(scratch.amqpUrl, { count: n, leadMs: 20_000 });
    const pollingPeerSeconds = await pollingPeerBurst(scratch, n);
    const bullmqPeerSeconds = await bullmqBurst(scratch.pool, n, 2_000_001);
    return {
      orders: n,
      serviceSeconds: secs[secs.length - 1]!,
      serviceP50Seconds: percentile(secs, 50),
      rawDeadLetterSeconds,
      rawBatchedSqlSeconds,
      pollingPeerSeconds,
      bullmqPeerSeconds,
    };
  } finally {
    await scratch.destroy();
  }
}
