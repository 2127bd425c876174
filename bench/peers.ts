import type mysql from 'mysql2/promise';
import { BullmqPeer } from './bullmq-peer';
import { rawPollingCron } from './raw-baselines';
import { latenessOf, log, seedOrders, waitFor } from './support';

// The two designs a team would build instead of this service, run on orders of their own in the scratch database
// (ids from `firstId`), one after the other, each alone with its orders as it would be in its own shop:
// - the polling peer: a cron every whole second, each poll closing every due order, 4 lanes × 500 a transaction
//   with SKIP LOCKED (raw-baselines.ts);
// - the BullMQ peer: a delayed job per order in Redis, a worker closing one order a transaction, 8 at a time.

/** Waits until every order with an id in [first, last] is closed; stops at once on the BullMQ peer's failure. */
function waitForClosed(
  pool: mysql.Pool,
  what: string,
  first: number,
  last: number,
  timeoutMs: number,
  peer?: BullmqPeer,
) {
  return waitFor(
    what,
    async () => {
      if (peer?.failure) throw peer.failure;
      const [rows] = await pool.query(
        "SELECT SUM(status = 'CLOSED') AS closed, COUNT(*) AS n FROM orders WHERE id BETWEEN ? AND ?",
        [first, last],
      );
      const { closed, n } = (rows as { closed: string | null; n: number }[])[0]!;
      return { done: Number(closed ?? 0) === Number(n), progress: `${closed ?? 0}/${n} closed` };
    },
    timeoutMs,
  );
}

/** Deadlines `rate` a second from `start` on: the i-th order of `firstId` on is due at start + i / rate. */
const spread = (firstId: number, start: number, rate: number) => (id: number) =>
  new Date(start + ((id - firstId) * 1000) / rate);

/** Lateness (ms) of each peer on `rate` orders a second for `seconds`, deadlines spread evenly from a lead time on. */
export interface PeerLateness {
  polling: number[];
  bullmq: number[];
}

/**
 * Steady lateness of both peers: `rate × seconds` orders of each with deadlines `rate` a second; the BullMQ peer's
 * jobs are added before the first deadline (a team's create handler would add them one by one; the peer is not
 * charged for creating its orders, the service is).
 */
export async function peersSteady(pool: mysql.Pool, rate: number, seconds: number): Promise<PeerLateness> {
  const n = rate * seconds;
  const pollingFirst = 5_000_001;
  const pollingStart = Date.now() + 5_000 + (n / 5_000) * 1_000;
  log(`peers: polling peer, ${rate}/s for ${seconds} s`);
  await seedOrders(pool, { firstId: pollingFirst, count: n, expiresAt: spread(pollingFirst, pollingStart, rate) });
  if (Date.now() > pollingStart) throw new Error('seeding the polling peer took longer than its lead time');
  await rawPollingCron(pool, new Date(pollingStart + seconds * 1000));
  await waitForClosed(pool, 'polling peer', pollingFirst, pollingFirst + n - 1, 60_000);
  const polling = await latenessOf(pool, pollingFirst, pollingFirst + n - 1);

  const bullFirst = 6_000_001;
  const bullStart = Date.now() + 5_000 + (n / 2_000) * 1_000;
  log(`peers: BullMQ peer, ${rate}/s for ${seconds} s`);
  const ids = await seedOrders(pool, { firstId: bullFirst, count: n, expiresAt: spread(bullFirst, bullStart, rate) });
  const peer = new BullmqPeer(pool);
  try {
    await peer.schedule(ids, spread(bullFirst, bullStart, rate));
    if (Date.now() > bullStart) throw new Error('scheduling the BullMQ peer took longer than its lead time');
    peer.start();
    await waitForClosed(pool, 'BullMQ peer', bullFirst, bullFirst + n - 1, seconds * 1000 + 120_000, peer);
  } finally {
    await peer.destroy();
  }
  return { polling, bullmq: await latenessOf(pool, bullFirst, bullFirst + n - 1) };
}

/** The BullMQ peer on `n` orders sharing one deadline: seconds from it until the last close. */
export async function bullmqBurst(pool: mysql.Pool, n: number, firstId: number): Promise<number> {
  const deadline = new Date(Date.now() + 10_000 + (n / 2_000) * 1_000);
  log(`burst: BullMQ peer, ${n} orders due at ${deadline.toISOString()}`);
  const ids = await seedOrders(pool, { firstId, count: n, expiresAt: deadline });
  const peer = new BullmqPeer(pool);
  try {
    await peer.schedule(ids, () => deadline);
    if (Date.now() > deadline.getTime()) throw new Error('scheduling the BullMQ peer took longer than its lead time');
    peer.start();
    await waitForClosed(pool, 'BullMQ peer burst', firstId, firstId + n - 1, 600_000, peer);
  } finally {
    await peer.destroy();
  }
  return Math.max(...(await latenessOf(pool, firstId, firstId + n - 1))) / 1000;
}

/** The BullMQ peer on `n` orders already due, their jobs waiting as its worker starts: closes a second, first to last. */
export async function bullmqBacklog(pool: mysql.Pool, n: number, firstId: number): Promise<number> {
  const past = new Date(Date.now() - 1000);
  log(`backlog: BullMQ peer, ${n} due jobs waiting as its worker starts (8 at a time)`);
  const ids = await seedOrders(pool, { firstId, count: n, expiresAt: past });
  const peer = new BullmqPeer(pool);
  try {
    await peer.schedule(ids, () => past);
    peer.start();
    await waitForClosed(pool, 'BullMQ peer backlog', firstId, firstId + n - 1, 600_000, peer);
  } finally {
    await peer.destroy();
  }
  const [span] = await pool.query(
    'SELECT TIMESTAMPDIFF(MICROSECOND, MIN(closed_at), MAX(closed_at)) AS us FROM orders WHERE id BETWEEN ? AND ?',
    [firstId, firstId + n - 1],
  );
  return n / Math.max(Number((span as { us: number }[])[0]!.us) / 1e6, 0.001);
}
