import { createHmac } from 'node:crypto';
import type { Knex } from 'knex';
import { percentile } from '../../../bench/support';
import { call, type Reply } from './traffic';

/** Options for {@link startPacedLoad}. */
export interface PacedLoadOptions {
  /** Where to send each request: read again for every request, so instances can come and go. */
  baseUrls: () => readonly string[];
  productIds: readonly string[];
  /** Orders created per second. */
  ratePerSecond: number;
  /** Share of created orders paid at once and cancelled at once (the rest time out). */
  payShare?: number;
  cancelShare?: number;
  /** Requests in flight at most; a slower service lowers the rate instead of piling up requests. */
  maxInFlight?: number;
  /** PAYMENT_WEBHOOK_SECRET of the service, when it checks signatures (production). */
  webhookSecret?: string;
}

/** The payment provider's notification, signed when there is a secret. */
async function notifyPayment(base: string, id: string, amountCents: number, secret?: string): Promise<Reply> {
  if (!secret) return call(base, 'POST', `/orders/${id}/pay`, { paymentRef: `load-${id}`, amountCents });
  const body = JSON.stringify({ paymentRef: `load-${id}`, amountCents });
  const res = await fetch(`${base}/orders/${id}/pay`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
    body,
  });
  return { status: res.status, body: await res.text() };
}

/** What a paced load did so far. */
export interface LoadTally {
  /** Ids of the orders the service acknowledged (201). */
  acknowledged: string[];
  /** Creates that got no 201, or no answer. */
  failed: number;
  paid: number;
  cancelled: number;
  /**
   * Pays and cancels that got another answer: under load one can reach the service after the 3 s deadline, and
   * a refusal (409) or a late payment (202) is then the right answer, not a failure.
   */
  refused: number;
}

export interface PacedLoad {
  tally: LoadTally;
  /** Stops sending and waits for the requests in flight. */
  stop(): Promise<LoadTally>;
}

/**
 * Creates orders at a steady rate (not as fast as possible: a fault's effect on closing is what is measured,
 * at a load like a busy shop's), paying and cancelling a share of them right away, round robin over the
 * instances `baseUrls` names.
 */
export function startPacedLoad(opts: PacedLoadOptions): PacedLoad {
  const tally: LoadTally = { acknowledged: [], failed: 0, paid: 0, cancelled: 0, refused: 0 };
  const { payShare = 0, cancelShare = 0, maxInFlight = 64 } = opts;
  const started = Date.now();
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  let stopped = false;

  const one = async (i: number) => {
    const urls = opts.baseUrls();
    const base = urls[i % urls.length]!;
    try {
      const res = await call(base, 'POST', '/orders', {
        customerId: `load-${i % 50}`,
        items: [{ productId: opts.productIds[i % opts.productIds.length], quantity: 1 }],
      });
      if (res.status !== 201) return void tally.failed++;
      const id = String(res.body.id);
      tally.acknowledged.push(id);
      const slot = (i % 100) / 100;
      if (slot < payShare) {
        const paid = await notifyPayment(base, id, Number(res.body.totalCents), opts.webhookSecret);
        if (paid.status === 200) tally.paid++;
        else tally.refused++;
      } else if (slot < payShare + cancelShare) {
        const cancelled = await call(base, 'POST', `/orders/${id}/cancel`);
        if (cancelled.status === 200) tally.cancelled++;
        else tally.refused++;
      }
    } catch {
      tally.failed++;
    }
  };

  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * opts.ratePerSecond);
    while (!stopped && sent < due && inFlight.size < maxInFlight) {
      const p = one(sent++).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
  }, 5);

  return {
    tally,
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      return tally;
    },
  };
}

/** How late orders whose deadline fell in [from, to] were closed: count and percentiles in ms. */
export async function closeLateness(
  db: Knex,
  from: Date,
  to: Date,
): Promise<{ closed: number; p50: number; p99: number; max: number }> {
  const rows: { ms: number | string }[] = await db('orders')
    .select(db.raw('TIMESTAMPDIFF(MICROSECOND, expires_at, closed_at) / 1000 AS ms'))
    .where({ status: 'CLOSED' })
    .andWhere('expires_at', '>=', from)
    .andWhere('expires_at', '<=', to);
  const sorted = rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
  const round = (n: number) => (Number.isNaN(n) ? 0 : Math.round(n));
  return {
    closed: sorted.length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? 0),
  };
}

/** `p50 / p99 / max` lateness as the fault table shows it. */
export const latenessText = (l: { closed: number; p50: number; p99: number; max: number }) =>
  `${l.closed} closed, lateness p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms`;
