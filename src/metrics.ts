import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** The service's Prometheus metrics; one registry per service instance so tests can run several. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'order_timeout_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const ordersClosed = new Counter({
    name: 'order_timeout_orders_closed_total',
    help: 'Orders closed because their payment window ended, by who closed them',
    labelNames: ['source'],
    registers: [registry],
  });
  return {
    registry,
    observeRequest(route: string, method: string, status: number, seconds: number) {
      httpDuration.observe({ route, method, status: String(status) }, seconds);
    },
    countClosed(count: number, source: string) {
      ordersClosed.inc({ source }, count);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
