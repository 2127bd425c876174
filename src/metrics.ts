import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { ClosedOrder } from './db/orders-repo';

/** The service's Prometheus metrics; one registry per service instance so tests can run several. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const httpDuration = new Histogram({
    name: 'order_timeout_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const ordersClosed = new Counter({
    name: 'order_timeout_orders_closed_total',
    help: 'Orders closed because their payment window ended, by who closed them',
    labelNames: ['source'],
    registers,
  });
  const lateness = new Histogram({
    name: 'order_timeout_close_lateness_seconds',
    help: 'closed_at - expires_at of orders closed for a timeout',
    labelNames: ['source'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300],
    registers,
  });
  const skipped = new Counter({
    name: 'order_timeout_timeouts_skipped_total',
    help: 'Timeout messages for orders no longer pending, by the order status',
    labelNames: ['status'],
    registers,
  });
  const parked = new Counter({ name: 'order_timeout_messages_parked_total', help: 'Messages parked, by reason', labelNames: ['reason'], registers });
  const rescheduled = new Counter({
    name: 'order_timeout_timeouts_rescheduled_total',
    help: 'Timeout messages sent on to a delay level: early arrivals and retries',
    labelNames: ['why'],
    registers,
  });
  const batchSize = new Histogram({ name: 'order_timeout_closer_batch_size', help: 'Orders per closing transaction', buckets: [1, 5, 10, 25, 50, 100, 200, 500], registers });
  const batchSeconds = new Histogram({
    name: 'order_timeout_closer_transaction_seconds',
    help: 'Duration of a closing transaction',
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });

  const countClosed = (closed: readonly ClosedOrder[], source: string) => {
    ordersClosed.inc({ source }, closed.length);
    for (const c of closed) lateness.observe({ source }, (c.closedAt.getTime() - c.expiresAt.getTime()) / 1000);
  };

  return {
    registry,
    observeRequest(route: string, method: string, status: number, seconds: number) {
      httpDuration.observe({ route, method, status: String(status) }, seconds);
    },
    countClosed,
    closer: {
      closed: (orders: ClosedOrder[]) => countClosed(orders, 'timeout'),
      skipped: (status: string) => skipped.inc({ status }),
      parked: (reason: string) => parked.inc({ reason }),
      rescheduled: (why: string) => rescheduled.inc({ why }),
      batch: (size: number, seconds: number) => {
        batchSize.observe(size);
        batchSeconds.observe(seconds);
      },
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
