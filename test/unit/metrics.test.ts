import { createMetrics } from '../../src/metrics';

const sample = (text: string, name: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
};

describe('outbox backlog gauges', () => {
  it('when scraped, then they show the rows waiting and the age of the oldest in seconds, from one read per scrape', async () => {
    let reads = 0;
    const metrics = createMetrics({
      outboxBacklog: async () => {
        reads++;
        return { waiting: 3, oldestAgeMs: 2_500, oldestEventAgeMs: 1_500 };
      },
    });
    const text = await metrics.registry.metrics();
    expect(sample(text, 'order_timeout_outbox_waiting')).toBe(3);
    expect(sample(text, 'order_timeout_outbox_oldest_age_seconds')).toBe(2.5);
    expect(sample(text, 'order_timeout_events_oldest_undelivered_age_seconds')).toBe(1.5);
    expect(reads).toBe(1);
  });

  it('when the read fails, then the scrape still succeeds with the last values and the miss is counted', async () => {
    let fail = false;
    const metrics = createMetrics({
      outboxBacklog: async () => {
        if (fail) throw new Error('connect ECONNREFUSED');
        return { waiting: 7, oldestAgeMs: 1_000, oldestEventAgeMs: 0 };
      },
    });
    await metrics.registry.metrics();
    fail = true;
    const text = await metrics.registry.metrics();
    expect(sample(text, 'order_timeout_outbox_waiting')).toBe(7);
    expect(sample(text, 'order_timeout_outbox_oldest_age_seconds')).toBe(1);
    expect(sample(text, 'order_timeout_outbox_backlog_errors_total')).toBe(1);
  });

  it('when the read hangs, then the scrape answers after the collect timeout with the last values', async () => {
    const metrics = createMetrics({ outboxBacklog: () => new Promise(() => undefined), collectTimeoutMs: 50 });
    const text = await metrics.registry.metrics();
    expect(sample(text, 'order_timeout_outbox_waiting')).toBe(0);
    expect(sample(text, 'order_timeout_outbox_backlog_errors_total')).toBe(1);
  });
});

describe('order counters', () => {
  it('when orders are closed, then they are counted and their lateness observed by source and category, with no order id in any label', async () => {
    const metrics = createMetrics();
    const expiresAt = new Date('2026-11-21T00:00:00.000Z');
    metrics.countCreated({ category: 'fresh' });
    metrics.countPaid({ category: 'fresh' });
    metrics.countClosed(
      [
        {
          id: '123456789',
          category: 'fresh',
          expiresAt,
          closedAt: new Date(expiresAt.getTime() + 4),
          returned: { stock: 2, coupon: 1, points: 150 },
        },
        {
          id: '987654321',
          category: 'books',
          expiresAt,
          closedAt: new Date(expiresAt.getTime() + 2_000),
          returned: { stock: 3, promotion: 3 },
        },
      ],
      'sweeper',
    );
    const text = await metrics.registry.metrics();
    expect(text).toContain('order_timeout_orders_created_total{category="fresh"} 1');
    expect(text).toContain('order_timeout_orders_paid_total{category="fresh"} 1');
    expect(text).toContain('order_timeout_orders_closed_total{source="sweeper",category="fresh"} 1');
    expect(text).toContain('order_timeout_orders_closed_total{source="sweeper",category="books"} 1');
    expect(text).toContain('order_timeout_holds_returned_total{kind="stock"} 5');
    expect(text).toContain('order_timeout_holds_returned_total{kind="coupon"} 1');
    expect(text).toContain('order_timeout_holds_returned_total{kind="promotion"} 3');
    expect(text).toContain('order_timeout_holds_returned_total{kind="points"} 150');
    expect(text).toContain(
      'order_timeout_close_lateness_seconds_bucket{le="0.005",source="sweeper",category="fresh"} 1',
    );
    expect(text).toContain('order_timeout_close_lateness_seconds_bucket{le="1",source="sweeper",category="books"} 0');
    expect(text).toContain('order_timeout_close_lateness_seconds_bucket{le="2",source="sweeper",category="books"} 1');
    expect(text).not.toMatch(/123456789|987654321/);
  });
});

describe('readiness gauge', () => {
  it('when scraped, then each dependency reads 1 while its check passes and 0 while it fails, throws or hangs', async () => {
    const metrics = createMetrics({
      readiness: {
        broker: () => true,
        'broker-topology': () => false,
        database: () => Promise.reject(new Error('connect ECONNREFUSED')),
        cache: () => new Promise<boolean>(() => undefined),
      },
      collectTimeoutMs: 50,
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('order_timeout_ready{dependency="broker"} 1');
    expect(text).toContain('order_timeout_ready{dependency="broker-topology"} 0');
    expect(text).toContain('order_timeout_ready{dependency="database"} 0');
    expect(text).toContain('order_timeout_ready{dependency="cache"} 0');
  });

  it('when a dependency comes back, then the next scrape reads 1', async () => {
    let up = false;
    const metrics = createMetrics({ readiness: { database: async () => up } });
    expect(await metrics.registry.metrics()).toContain('order_timeout_ready{dependency="database"} 0');
    up = true;
    expect(await metrics.registry.metrics()).toContain('order_timeout_ready{dependency="database"} 1');
  });
});

describe('closer gauges and counters', () => {
  it('when scraped, then the closer consumers gauge reads the count at that moment', async () => {
    let consumers = 1;
    const metrics = createMetrics({ closerConsumers: () => consumers });
    expect(sample(await metrics.registry.metrics(), 'order_timeout_closer_consumers')).toBe(1);
    consumers = 0;
    expect(sample(await metrics.registry.metrics(), 'order_timeout_closer_consumers')).toBe(0);
  });

  it('when nothing was parked yet, then every park reason is exported at 0, so the first park shows as an increase', async () => {
    const metrics = createMetrics();
    metrics.closer.parked('invalid');
    const text = await metrics.registry.metrics();
    expect(text).toContain('order_timeout_messages_parked_total{reason="invalid"} 1');
    expect(text).toContain('order_timeout_messages_parked_total{reason="unknown-order"} 0');
    expect(text).toContain('order_timeout_messages_parked_total{reason="attempts-exhausted"} 0');
  });
});
