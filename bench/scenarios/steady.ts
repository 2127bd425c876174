import { rawSteadyDeadLettering } from '../raw-baselines';
import {
  createScratch,
  log,
  percentile,
  seedProducts,
  sleep,
  startServiceProcess,
  waitForNonePending,
  PRODUCTS,
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
  service: LatenessSummary;
  raw: LatenessSummary;
  /** Every order's lateness in ms, and the raw baseline's, for the plot. */
  samples: number[];
  rawSamples: number[];
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

/** 2. Steady lateness: `rate` orders/s over HTTP for `seconds` on a 2 s window; closed_at − expires_at. */
export async function steadyLateness(rate: number, seconds: number): Promise<SteadyResult> {
  const scratch = await createScratch(4);
  try {
    await seedProducts(scratch.pool, 'twosec');
    const service = await startServiceProcess(scratch, {
      ORDER_PAYMENT_TIMEOUTS: JSON.stringify({ default: '15m', twosec: '2s' }),
    });
    log(`steady: ${rate} orders/s for ${seconds} s over HTTP, 2 s window (default levels: 1s + 1s hops)`);
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
      const p: Promise<void> = fetch(`http://127.0.0.1:${service.port}/orders`, {
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
    await waitForNonePending(scratch.pool, 'steady closes', 60_000);
    const [rows] = await scratch.pool.query(
      'SELECT TIMESTAMPDIFF(MICROSECOND, expires_at, closed_at) / 1000 AS ms FROM orders',
    );
    const samples = (rows as { ms: string }[]).map((r) => Number(r.ms));
    await service.stop();

    log(`steady: raw baseline, ${rate} msg/s for 10 s through a 2 s TTL quorum queue`);
    const raw = await rawSteadyDeadLettering(scratch.amqpUrl, { count: rate * 10, ttlMs: 2000, ratePerSecond: rate });
    return { ratePerSecond: rate, seconds, service: summarize(samples), raw: summarize(raw), samples, rawSamples: raw };
  } finally {
    await scratch.destroy();
  }
}
