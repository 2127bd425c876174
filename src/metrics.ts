import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { asClosed, type ClosedOrder, type FiredOrder } from './db/order-transitions';
import type { OutboxBacklog } from './db/outbox-repo';
import { TIMER_KINDS, type TimerKind } from './domain/timer-kinds';
import type { AmountsByKind } from './domain/holds';
import { EVENT_KINDS } from './domain/order-event-types';
import { ATTEMPT_BUCKETS, attemptBucket } from './domain/webhook-retry';
import { errorFields, logger } from './log';

/** What {@link createMetrics} needs to collect gauges at scrape time. */
export interface MetricsOptions {
  /** Unsent outbox rows and the age of the oldest, of any kind and of the events (one cheap query), read on every scrape. */
  outboxBacklog?: () => Promise<OutboxBacklog>;
  /**
   * The checks behind `/readyz`, by dependency (`broker`, `broker-topology`, `database`): true while it is up. Read
   * on every scrape into `order_timeout_ready`.
   */
  readiness?: Readonly<Record<string, () => boolean | Promise<boolean>>>;
  /** Consumers the closer has on `order.timeout` in this process, read on every scrape. */
  closerConsumers?: () => number;
  /** How many webhook URLs are configured: their parked series start at 0, so the first park is an increase. */
  webhookTargets?: number;
  /**
   * Longest a scrape waits for `outboxBacklog` (then it answers with the last values) or for a readiness check
   * (then that dependency counts as down). Default 1 s.
   */
  collectTimeoutMs?: number;
}

/** Why the closer parks a message; each starts at 0, so the first park of a process shows in `increase()`. */
const PARK_REASONS = ['invalid', 'unknown-order', 'attempts-exhausted'];

/**
 * The service's Prometheus metrics; one registry per service instance so tests can run several. Labels carry
 * categories, sources, statuses, reasons and route patterns, never an order id.
 */
export function createMetrics(opts: MetricsOptions = {}) {
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
  const shed = new Counter({
    name: 'order_timeout_http_requests_shed_total',
    help: 'API requests answered 503 overloaded before any work, by reason: queue-full, queue-timeout',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of ['queue-full', 'queue-timeout']) shed.inc({ reason }, 0);
  const ordersCreated = new Counter({
    name: 'order_timeout_orders_created_total',
    help: 'Orders created, by the category whose payment window they got',
    labelNames: ['category'],
    registers,
  });
  const ordersPaid = new Counter({
    name: 'order_timeout_orders_paid_total',
    help: 'Orders paid, by category',
    labelNames: ['category'],
    registers,
  });
  const ordersClosed = new Counter({
    name: 'order_timeout_orders_closed_total',
    help: 'Orders closed because their payment window ended, by who closed them (timeout, sweeper, read) and category',
    labelNames: ['source', 'category'],
    registers,
  });
  const holdsReturned = new Counter({
    name: 'order_timeout_holds_returned_total',
    help: 'What closes and cancels gave back, by hold kind: stock units, coupons, promotion units, points',
    labelNames: ['kind'],
    registers,
  });
  const latePayments = new Counter({
    name: 'order_timeout_late_payments_total',
    help: 'Payments for orders that had timed out, by outcome: revived (the order became PAID) or refund',
    labelNames: ['outcome'],
    registers,
  });
  const refundsRequired = new Counter({
    name: 'order_timeout_payments_refund_required_total',
    help: 'Payments stored as REFUND_REQUIRED, by reason: order-cancelled, already-paid, late-payment, holds-unavailable',
    labelNames: ['reason'],
    registers,
  });
  const lateness = new Histogram({
    name: 'order_timeout_close_lateness_seconds',
    help: 'closed_at - expires_at of orders closed for a timeout, by who closed them and category',
    labelNames: ['source', 'category'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300],
    registers,
  });
  const timersFired = new Counter({
    name: 'order_timeout_timers_fired_total',
    help: 'Timers that fired, by kind (payment-timeout, auto-complete, payment-reminder) and by who fired them (timeout, sweeper)',
    labelNames: ['kind', 'source'],
    registers,
  });
  for (const kind of TIMER_KINDS)
    for (const source of ['timeout', 'sweeper']) timersFired.inc({ kind: kind.name, source }, 0);
  const skipped = new Counter({
    name: 'order_timeout_timeouts_skipped_total',
    help: 'Timeout messages for orders no longer pending, by the order status',
    labelNames: ['status'],
    registers,
  });
  const parked = new Counter({
    name: 'order_timeout_messages_parked_total',
    help: 'Messages parked, by reason',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of PARK_REASONS) parked.inc({ reason }, 0);
  const sweepFailures = new Counter({
    name: 'order_timeout_sweeper_close_failures_total',
    help: 'Orders the sweeper failed to close on their own (each attempt); the sweep skipped them and went on',
    registers,
  });
  const rescheduled = new Counter({
    name: 'order_timeout_timeouts_rescheduled_total',
    help: 'Timeout messages sent on to a delay level: early arrivals and retries',
    labelNames: ['why'],
    registers,
  });
  const batchSize = new Histogram({
    name: 'order_timeout_closer_batch_size',
    help: 'Orders per closing transaction',
    buckets: [1, 5, 10, 25, 50, 100, 200, 500],
    registers,
  });
  const batchSeconds = new Histogram({
    name: 'order_timeout_closer_transaction_seconds',
    help: 'Duration of a closing transaction',
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });

  const webhookDeliveries = new Counter({
    name: 'order_timeout_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (delivered, retried, parked), attempt number (bucketed) and target (the position of the URL in WEBHOOK_URLS)',
    labelNames: ['target', 'outcome', 'attempt'],
    registers,
  });
  for (let target = 0; target < (opts.webhookTargets ?? 0); target++)
    for (const attempt of ATTEMPT_BUCKETS)
      webhookDeliveries.inc({ target: String(target), outcome: 'parked', attempt }, 0);
  const webhookSeconds = new Histogram({
    name: 'order_timeout_webhook_attempt_seconds',
    help: 'Duration of webhook delivery attempts (up to webhooks.timeout), by target',
    labelNames: ['target'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const eventsPublished = new Counter({
    name: 'order_timeout_events_published_total',
    help: 'Order events the broker confirmed on order.events, by CloudEvents type (order.created, order.closed, …); a retried event counts again',
    labelNames: ['type'],
    registers,
  });
  for (const type of EVENT_KINDS) eventsPublished.inc({ type }, 0);

  const collectTimeoutMs = opts.collectTimeoutMs ?? 1_000;
  if (opts.outboxBacklog) registerOutboxGauges(registers, opts.outboxBacklog, collectTimeoutMs);
  if (opts.readiness) registerReadinessGauge(registers, opts.readiness, collectTimeoutMs);
  if (opts.closerConsumers) {
    const read = opts.closerConsumers;
    new Gauge({
      name: 'order_timeout_closer_consumers',
      help: 'Consumers the closer has on order.timeout in this process: 0 while the broker is unreachable or the process drains',
      registers,
      collect() {
        this.set(read());
      },
    });
  }

  const countReturned = (returned: AmountsByKind) => {
    for (const [kind, amount] of Object.entries(returned)) holdsReturned.inc({ kind }, amount);
  };
  const countClosed = (closed: readonly ClosedOrder[], source: string) => {
    for (const c of closed) {
      countReturned(c.returned);
      ordersClosed.inc({ source, category: c.category });
      lateness.observe({ source, category: c.category }, (c.closedAt.getTime() - c.expiresAt.getTime()) / 1000);
    }
  };

  /** A payment timeout that fired closed its orders: counted as closes too (lateness, what came back). */
  const countFired = (kind: TimerKind, fired: readonly FiredOrder[], source: string) => {
    timersFired.inc({ kind: kind.name, source }, fired.length);
    if (kind.event === 'timeout') countClosed(fired.map(asClosed), source);
  };

  return {
    registry,
    countFired,
    observeRequest(route: string, method: string, status: number, seconds: number) {
      httpDuration.observe({ route, method, status: String(status) }, seconds);
    },
    countShed: (reason: string) => shed.inc({ reason }),
    countClosed,
    countReturned,
    countCreated: (order: { category: string }) => ordersCreated.inc({ category: order.category }),
    countPaid: (order: { category: string }) => ordersPaid.inc({ category: order.category }),
    countLatePayment: (outcome: 'revived' | 'refund') => latePayments.inc({ outcome }),
    countRefundRequired: (reason: string) => refundsRequired.inc({ reason }),
    webhooks: {
      delivery: (target: number, outcome: string, attempt: number) =>
        webhookDeliveries.inc({ target: String(target), outcome, attempt: attemptBucket(attempt) }),
      attemptSeconds: (target: number, seconds: number) => webhookSeconds.observe({ target: String(target) }, seconds),
    },
    countEventPublished: (type: string) => eventsPublished.inc({ type }),
    countSweepFailure: () => sweepFailures.inc(),
    closer: {
      fired: (kind: TimerKind, fired: FiredOrder[]) => countFired(kind, fired, kind.source),
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

/**
 * Outbox backlog gauges, read at scrape time. Both come from one query shared by the two gauges. A query that
 * fails or takes longer than `timeoutMs` never fails the scrape: the gauges keep their last values and
 * `order_timeout_outbox_backlog_errors_total` counts the miss (readiness reports the database itself).
 */
function registerOutboxGauges(registers: Registry[], read: () => Promise<OutboxBacklog>, timeoutMs: number): void {
  let last: OutboxBacklog = { waiting: 0, oldestAgeMs: 0, oldestEventAgeMs: 0 };
  let pending: Promise<void> | undefined;
  // One query per scrape, however many gauges ask: the first collect starts it, the second joins it.
  const refresh = () =>
    (pending ??= (async () => {
      try {
        last = await within(read(), timeoutMs);
      } catch (err) {
        errors.inc();
        logger.warn('outbox backlog not read for /metrics; showing the last values', { ...errorFields(err) });
      } finally {
        pending = undefined;
      }
    })());
  const errors = new Counter({
    name: 'order_timeout_outbox_backlog_errors_total',
    help: 'Scrapes for which the outbox backlog could not be read in time (the outbox gauges then show their last values)',
    registers,
    // Waits for this scrape's read, so a miss shows in the same scrape.
    async collect() {
      await refresh();
    },
  });
  new Gauge({
    name: 'order_timeout_outbox_waiting',
    help: 'Outbox rows not yet confirmed by the broker (timeout messages waiting to be published)',
    registers,
    async collect() {
      await refresh();
      this.set(last.waiting);
    },
  });
  new Gauge({
    name: 'order_timeout_outbox_oldest_age_seconds',
    help: 'Age of the oldest outbox row not yet confirmed by the broker (0 when none waits)',
    registers,
    async collect() {
      await refresh();
      this.set(last.oldestAgeMs / 1000);
    },
  });
  new Gauge({
    name: 'order_timeout_events_oldest_undelivered_age_seconds',
    help: 'Age of the oldest order event in the outbox not yet confirmed by the broker (0 when none waits)',
    registers,
    async collect() {
      await refresh();
      this.set(last.oldestEventAgeMs / 1000);
    },
  });
}

/**
 * `order_timeout_ready{dependency}`: 1 while the dependency is up, 0 while it is down, from the same checks as
 * `/readyz` (which also reports `draining`, not a dependency). A check that fails or does not answer within
 * `timeoutMs` counts as down: a database that hangs is as unreachable as one that refuses.
 */
function registerReadinessGauge(
  registers: Registry[],
  checks: Readonly<Record<string, () => boolean | Promise<boolean>>>,
  timeoutMs: number,
): void {
  new Gauge({
    name: 'order_timeout_ready',
    help: 'Whether a dependency is up (1) or down (0) by the checks behind /readyz: broker, broker-topology, database',
    labelNames: ['dependency'],
    registers,
    async collect() {
      const states = await Promise.all(
        Object.entries(checks).map(async ([dependency, check]) => {
          const up = await within(Promise.resolve().then(check), timeoutMs).catch(() => false);
          return { dependency, up };
        }),
      );
      for (const { dependency, up } of states) this.set({ dependency }, up ? 1 : 0);
    },
  });
}

/** `work`'s result, or a rejection once `ms` have passed without one. */
async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

export type Metrics = ReturnType<typeof createMetrics>;
