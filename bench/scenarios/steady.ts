import { peersSteady } from '../peers';
import { rawSteadyDeadLettering } from '../raw-baselines';
import {
  createScratch,
  latenessOf,
  log,
  percentile,
  seedOrders,
  seedProducts,
  sleep,
  startServiceProcess,
  waitForScheduled,
  waitForNonePending,
  PRODUCTS,
  type Scratch,
} from '../support';

export interface LatenessSummary {
  count: number;
  early: number;
  p50: number;
  p99: number;
  max: number;
}

export interface SteadyResult {
  ratePerSecond: number;
  seconds: number;
  /** How the service's orders came: created over HTTP at the rate, or written ahead and scheduled by its relay. */
  orders: 'http' | 'scheduled';
  service: LatenessSummary;
  /** The same orders with the API and the closer in processes of their own (HTTP runs only). */
  apart?: LatenessSummary;
  raw: LatenessSummary;
  /** The polling peer and the BullMQ peer at the same rate, for `peerSeconds`. */
  peerSeconds: number;
  polling: LatenessSummary;
  bullmq: LatenessSummary;
  /** Every order's lateness in ms (the service's, the raw baseline's, each peer's), for the plot. */
  samples: number[];
  apartSamples?: number[];
  rawSamples: number[];
  pollingSamples: number[];
  bullmqSamples: number[];
}

/** The raw TTL baseline (10 s) and both peers at `rate`, after the service's run; the result around `samples`. */
async function withBaselines(
  scratch: Scratch,
  run: {
    rate: number;
    seconds: number;
    peerSeconds: number;
    orders: SteadyResult['orders'];
    samples: number[];
    apartSamples?: number[];
  },
): Promise<SteadyResult> {
  const { rate, peerSeconds } = run;
  log(`steady: raw baseline, ${rate} msg/s for 10 s through a 2 s TTL quorum queue`);
  const raw = await rawSteadyDeadLettering(scratch.amqpUrl, { count: rate * 10, ttlMs: 2000, ratePerSecond: rate });
  const peers = await peersSteady(scratch.pool, rate, peerSeconds);
  return {
    ratePerSecond: rate,
    seconds: run.seconds,
    orders: run.orders,
    service: summarize(run.samples),
    apart: run.apartSamples && summarize(run.apartSamples),
    raw: summarize(raw),
    peerSeconds,
    polling: summarize(peers.polling),
    bullmq: summarize(peers.bullmq),
    samples: run.samples,
    apartSamples: run.apartSamples,
    rawSamples: raw,
    pollingSamples: peers.polling,
    bullmqSamples: peers.bullmq,
  };
}

export function summarize(ms: number[]): LatenessSummary {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    count: sorted.length,
    early: sorted.filter((x) => x < 0).length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/**
 * 2. Steady lateness: `rate` orders/s over HTTP for `seconds` on a 2 s window; closed_at − expires_at. Then the
 * raw TTL baseline and both peers at the same rate for `peerSeconds`.
 */
export async function steadyLateness(rate: number, seconds: number, peerSeconds = seconds): Promise<SteadyResult> {
  const scratch = await createScratch(8);
  try {
    await seedProducts(scratch.pool, 'twosec');
    const env = { ORDER_PAYMENT_TIMEOUTS: JSON.stringify({ default: '15m', twosec: '2s' }) };
    const service = await startServiceProcess(scratch, env);
    let samples: number[];
    let lastId: number;
    try {
      log(`steady: ${rate} orders/s for ${seconds} s over HTTP, 2 s window (default levels: 1s + 1s hops)`);
      await driveOrders(service.port, rate, seconds);
      await waitForNonePending(scratch.pool, 'steady closes', 60_000);
      lastId = await lastOrderId(scratch);
      samples = await latenessOf(scratch.pool, 1, lastId);
    } finally {
      await service.stop();
    }

    // The same with the roles apart: HTTP in one process, the closer in another (sharing no event loop).
    const api = await startServiceProcess(scratch, { ...env, SERVICE_ROLES: 'api' });
    const closer = await startServiceProcess(scratch, { ...env, SERVICE_ROLES: 'closer' }).catch(async (err) => {
      await api.stop();
      throw err;
    });
    let apartSamples: number[];
    try {
      log(`steady: the same with the roles apart (SERVICE_ROLES=api takes the orders, SERVICE_ROLES=closer closes)`);
      await driveOrders(api.port, rate, seconds);
      await waitForNonePending(scratch.pool, 'steady closes, roles apart', 60_000);
      apartSamples = await latenessOf(scratch.pool, lastId + 1, await lastOrderId(scratch));
    } finally {
      await Promise.all([api.stop(), closer.stop()]);
    }
    return await withBaselines(scratch, { rate, seconds, peerSeconds, orders: 'http', samples, apartSamples });
  } finally {
    await scratch.destroy();
  }
}

/** Creates `rate` orders a second over HTTP for `seconds` (2 s window each); throws if any creation failed. */
async function driveOrders(port: number, rate: number, seconds: number): Promise<void> {
  const total = rate * seconds;
  let sent = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  const t0 = Date.now();
  while (sent < total) {
    const due = t0 + (sent * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
    const body = JSON.stringify({
      customerId: 'steady',
      items: [{ productId: String(1 + (sent % PRODUCTS)), quantity: 1 }],
    });
    const p: Promise<void> = fetch(`http://127.0.0.1:${port}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
      .then((r) => {
        if (r.status !== 201) failed++;
        return r.arrayBuffer();
      })
      .then(
        () => undefined,
        () => void failed++,
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    sent++;
    if (sent % (rate * 10) === 0) log(`  steady: ${sent}/${total} created`);
  }
  await Promise.all([...inFlight]);
  if (failed > 0) throw new Error(`${failed} order creations failed`);
}

/** The highest order id so far (0 when none). */
async function lastOrderId(scratch: Scratch): Promise<number> {
  const [rows] = await scratch.pool.query('SELECT COALESCE(MAX(id), 0) AS id FROM orders');
  return Number((rows as { id: number }[])[0]!.id);
}

/**
 * 2b. Steady lateness at a rate above what create takes (1,000/s): `rate × seconds` orders written straight into
 * the database with their outbox rows, deadlines `rate` a second after a lead time, scheduled by the service's own
 * relay before the first deadline, so that the closer alone is measured. Then the raw baseline and both peers.
 */
export async function steadyScheduled(rate: number, seconds: number): Promise<SteadyResult> {
  const scratch = await createScratch(8);
  try {
    await seedProducts(scratch.pool, 'general');
    const n = rate * seconds;
    const start = Date.now() + 20_000 + (n / 1_000) * 1_000;
    log(
      `steady: ${n} orders due ${rate}/s for ${seconds} s from ${new Date(start).toISOString()}, scheduled by the relay`,
    );
    await seedOrders(scratch.pool, {
      firstId: 1,
      count: n,
      expiresAt: (id) => new Date(start + ((id - 1) * 1000) / rate),
      outbox: true,
    });
    const service = await startServiceProcess(scratch);
    let samples: number[];
    try {
      await waitForScheduled(scratch.pool, 'steady scheduling', 120_000);
      if (Date.now() > start) throw new Error('scheduling took longer than the lead time; raise it');
      await waitForNonePending(scratch.pool, 'steady closes', seconds * 1000 + 120_000);
      samples = await latenessOf(scratch.pool, 1, n);
    } finally {
      await service.stop();
    }
    return await withBaselines(scratch, { rate, seconds, peerSeconds: seconds, orders: 'scheduled', samples });
  } finally {
    await scratch.destroy();
  }
}
