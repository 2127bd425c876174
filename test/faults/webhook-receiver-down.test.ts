import type { Knex } from 'knex';
import { EVENT_KINDS } from '../../src/domain/order-event-types';
import { WEBHOOK_DELAY_EXCHANGE, WEBHOOK_PARKED_QUEUE, webhookQueueName } from '../../src/messaging/topology';
import { targetId } from '../../src/webhooks/targets';
import { queueDepth } from '../support/amqp';
import { consumeEvents, firstCopies, type EventConsumer } from '../support/events';
import { eventually, sleep } from '../support/scratch';
import { newWebhookSecret, startReceiver, type Receiver } from '../support/webhooks';
import { countScenario, report } from './support/invariants';
import { call, createProduct, metric, note, waitUntilSettled, ScratchRun, type Reply } from './support/traffic';
import { DeliveryLog } from './support/webhook-log';

// Orders per second, sized by the suite's scale knob: 100/s at the full 20,000, 25/s in npm test (5,000).
const RATE = Math.max(5, Math.round(Number(process.env.FAULTS_SCALE_ORDERS ?? 20_000) / 200));
const LOAD_MS = 60_000;
const DELAY_LEVELS = ['1s', '2s', '5s'];

/** The receiver during the load (ms from its start): up, refusing connections, answering 503, up again. */
const PHASES = [
  { at: 0, listening: true, status: 200 },
  { at: 15_000, listening: false, status: 200 },
  { at: 30_000, listening: true, status: 503 },
  { at: 45_000, listening: true, status: 200 },
] as const;

/** What the client does after creating order i (i mod 20), a step a second: 4 in 20 pay, 1 of them then ships, 1 cancels; the rest time out. */
const STEPS = ['pay', 'pay', 'pay', 'pay,ship', 'cancel', ...Array<string>(15).fill('')].map((s) =>
  s ? s.split(',') : [],
);

const run = new ScratchRun();
const { children } = run;
afterAll(() => run.cleanup());
let receiver: Receiver | undefined;
let consumer: EventConsumer | undefined;

/** What the paced load did. */
interface Load {
  acknowledged: string[];
  /** Requests answered otherwise than expected. */
  problems: string[];
  /** Requests shed (503 overloaded: the machine was too busy; the client may retry, nothing was changed). */
  shed: number;
  /** When the receiver came back (the last phase began). */
  upAt: number;
}

function unexpected(load: Load, what: string, res: Reply): void {
  if (res.status === 503 && String(res.body?.type).endsWith(':overloaded')) load.shed++;
  else load.problems.push(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** The error lines the service processes logged. */
const errorLines = () =>
  children.flatMap((c) =>
    c
      .output()
      .split('\n')
      .filter((l) => l.includes('"level":"error"')),
  );

/** One order's life: created on `base`, then its steps a second apart. Answers other than expected go to `problems`. */
async function orderLife(base: string, product: string, i: number, load: Load): Promise<void> {
  const created = await call(base, 'POST', '/orders', {
    customerId: `wh-${i}`,
    items: [{ productId: product, quantity: 1 }],
  });
  if (created.status !== 201) return unexpected(load, `create ${i}`, created);
  const order = { id: String(created.body.id), total: Number(created.body.totalCents) };
  load.acknowledged.push(order.id);
  for (const step of STEPS[i % STEPS.length]!) {
    await sleep(1_000);
    const body = step === 'pay' ? { paymentRef: `wh-${order.id}`, amountCents: order.total } : undefined;
    const res = await call(base, 'POST', `/orders/${order.id}/${step}`, body);
    // A step that comes after the close on a loaded machine may be refused (409); never a 5xx.
    if (res.status >= 500) unexpected(load, `${step} ${order.id}`, res);
  }
}

/** Creates RATE orders a second over both services for LOAD_MS, moving the receiver through PHASES meanwhile. */
async function pacedLoad(products: string[], setStatus: (s: number) => void): Promise<Load> {
  const load: Load = { acknowledged: [], problems: [], shed: 0, upAt: 0 };
  const lives: Promise<void>[] = [];
  const start = Date.now();
  let phase = 0;
  for (let elapsed = 0; elapsed < LOAD_MS; elapsed = Date.now() - start) {
    for (; phase < PHASES.length && PHASES[phase]!.at <= elapsed; phase++) {
      const { listening, status } = PHASES[phase]!;
      if (listening && phase > 0 && !PHASES[phase - 1]!.listening) await receiver!.listen();
      if (!listening) await receiver!.refuse();
      setStatus(status);
      load.upAt = Date.now();
    }
    const due = Math.floor((RATE * elapsed) / 1000);
    while (lives.length < due) {
      const i = lives.length;
      lives.push(orderLife(children[i % children.length]!.baseUrl, products[i % products.length]!, i, load));
    }
    await sleep(20); // pacing the load, not waiting for a condition
  }
  await Promise.all(lives);
  return load;
}

/** Ids and sequences of every event the service wrote (outbox rows of event kinds), and how many are unsent. */
async function published(database: Knex) {
  const rows: { message_id: string; sent_at: Date | null }[] = await database('outbox')
    .whereIn('kind', EVENT_KINDS as string[])
    .select('message_id', 'sent_at');
  return { ids: rows.map((r) => r.message_id), unsent: rows.filter((r) => r.sent_at === null).length };
}

interface Scenario {
  amqpUrl: string;
  secret: string;
  products: string[];
  /** What the receiver answers while it listens. */
  status: number;
}

/** A receiver, two service processes sending it webhooks, a consumer of order.events and the products. */
async function startScenario(): Promise<Scenario> {
  // Only the receiver fails here, so the shared servers serve, with a scratch database and vhost of its own.
  const { AMQP_URL: amqpUrl } = await run.env();
  const scenario: Scenario = { amqpUrl, secret: newWebhookSecret(), products: [], status: 200 };
  receiver = await startReceiver(() => scenario.status);
  run.closers.push(() => receiver!.close());
  const env = {
    DELAY_LEVELS: DELAY_LEVELS.join(','),
    ORDER_PAYMENT_TIMEOUTS: JSON.stringify({ default: '15m', short: '4s' }),
    WEBHOOK_URLS: receiver.url,
    WEBHOOK_SECRET: scenario.secret,
    WEBHOOK_TIMEOUT: '5s',
    // Longer than the outage, the longest retry wait and the backlog behind it at the full scale (about a minute
    // on a busy 2-core machine), short enough that a delivery stuck retrying would park within the test.
    WEBHOOK_MAX_AGE: '2m',
  };
  // Two processes: they share the URL's queue, as a deployment with replicas does.
  await run.start(env);
  await run.start(env);
  consumer = await consumeEvents(amqpUrl);
  run.closers.push(() => consumer!.close());
  // Spread over 50 products: the orders' stock rows are not what this scenario is about (races.test.ts is).
  for (let p = 0; p < 50; p++) scenario.products.push(await createProduct(children[0]!.baseUrl, 'short', 1_000_000));
  return scenario;
}

/** Waits until every event written is published and delivered, and nothing is left in the webhook queues. */
async function waitUntilDelivered(database: Knex, log: DeliveryLog, amqpUrl: string): Promise<void> {
  await eventually(
    async () => {
      const { ids, unsent } = await published(database);
      return unsent === 0 && log.sync().events.size >= ids.length;
    },
    90_000,
    'every published event to reach the receiver',
  );
  const queues = [
    webhookQueueName(targetId(receiver!.url)),
    ...DELAY_LEVELS.map((l) => `${WEBHOOK_DELAY_EXCHANGE}.${l}`),
    WEBHOOK_PARKED_QUEUE,
  ];
  await eventually(
    async () => (await Promise.all(queues.map((q) => queueDepth(amqpUrl, q)))).every((n) => n === 0),
    30_000,
    'the webhook queues to empty',
  );
  log.sync();
}

/** A counter summed over both processes. */
const webhookAttempts = async (outcome: string) =>
  (
    await Promise.all(children.map((c) => metric(c, 'order_timeout_webhook_deliveries_total', `outcome="${outcome}"`)))
  ).reduce((a, b) => a + b, 0);

test('when the only webhook receiver is down for 30 s (connection refused, then 503) under a minute of order traffic, then every published event reaches it signed, none parked, every order sequence complete', async () => {
  const scenario = await startScenario();
  const load = await pacedLoad(scenario.products, (s) => void (scenario.status = s));
  expect({ problems: load.problems, errors: errorLines() }).toEqual({ problems: [], errors: [] });
  await waitUntilSettled(run.db, load.acknowledged, 30_000);
  const log = new DeliveryLog(receiver!, scenario.secret);
  await waitUntilDelivered(run.db, log, scenario.amqpUrl);

  // Every event written was published (a consumer of order.events got it) and delivered, signed, in full.
  const { ids } = await published(run.db);
  await consumer!.waitFor((r) => firstCopies(r).length >= ids.length, 'every event on order.events', 30_000);
  expect(new Set(firstCopies(consumer!.received).map((e) => e.id))).toEqual(new Set(ids));
  expect(new Set(log.events.keys())).toEqual(new Set(ids));
  expect(log.badRequests).toEqual([]);
  const orders: { id: number; event_seq: number }[] = await run.db('orders').select('id', 'event_seq');
  expect(log.sequenceGaps(new Map(orders.map((o) => [String(o.id), Number(o.event_seq)])))).toEqual([]);
  expect(await webhookAttempts('parked')).toBe(0);

  // The outage really held events back: some were committed before the receiver came back and delivered after.
  const delays = [...log.events.values()]
    .filter((e) => e.committedAt < load.upAt && e.firstAt >= load.upAt)
    .map((e) => (e.firstAt - load.upAt) / 1000)
    .sort((a, b) => a - b);
  expect(delays.length).toBeGreaterThan(0);
  expect(log.answered.get('503') ?? 0).toBeGreaterThan(0);
  const last = delays[delays.length - 1]!.toFixed(1);
  const duplicates = log.duplicates();
  note(
    `webhook receiver down: ${RATE} orders/s for ${LOAD_MS / 1000} s over 2 processes (${load.shed} requests shed); ` +
      `${ids.length} events published, ${log.events.size} delivered, ${duplicates} duplicate deliveries; ` +
      `${await webhookAttempts('retried')} failed attempts (${log.answered.get('503') ?? 0} answered 503, the rest refused); ` +
      `${delays.length} held back by the outage, delivered ${delays[delays.length >> 1]!.toFixed(1)} s (median) and ` +
      `${last} s (last) after the receiver came back; 0 parked`,
  );
  report(
    await countScenario(
      run.db,
      `webhook receiver down 30 s: ${ids.length} events, ${log.events.size} delivered (${duplicates} twice), last +${last} s`,
      load.acknowledged,
    ),
  );
}, 240_000);
