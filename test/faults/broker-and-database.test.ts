import { randomBytes } from 'node:crypto';
import { loadConfig, type ConfigOverrides } from '../../src/config';
import { startService, type ServiceHandle } from '../../src/main';
import { eventually, sleep } from '../support/scratch';
import { countScenario, report } from './support/invariants';
import {
  killPrivateBroker,
  pausePrivateBroker,
  PRIVATE_BROKER,
  privateDatabaseUrl,
  privateVhost,
  resumePrivateBroker,
  startPrivateBroker,
  startPrivateDatabase,
  stopPrivateBroker,
  stopPrivateDatabase,
} from './support/private-services';

// Every scenario here breaks the broker or the database itself, so they use a node and a server of their own.
beforeAll(async () => {
  await Promise.all([startPrivateBroker(), startPrivateDatabase()]);
}, 120_000);
afterAll(async () => {
  await stopPrivateBroker();
  await startPrivateDatabase().catch(() => undefined);
  await stopPrivateDatabase();
});

interface Running extends ServiceHandle {
  amqpUrl: string;
  post(path: string, body: unknown): Promise<{ status: number; body: { id?: string } }>;
}

async function startOnPrivate(overrides: ConfigOverrides = {}): Promise<Running> {
  const name = `ot_fault_${randomBytes(3).toString('hex')}`;
  const config = loadConfig({
    http: { port: 0 },
    mysql: { url: privateDatabaseUrl(name) },
    amqp: {
      url: await privateVhost(name),
      heartbeat: '2s',
      publishTimeout: '3s',
      managementUrl: PRIVATE_BROKER.managementUrl,
    },
    outbox: { relayInterval: '500ms' },
    sweeper: { interval: '1h' },
    orderPaymentTimeouts: { default: '15m', short: '4s' },
    ...overrides,
  });
  const service = await startService(config);
  return {
    ...service,
    amqpUrl: config.amqp.url,
    async post(path, body) {
      const res = await fetch(`http://127.0.0.1:${service.port}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { id?: string } };
    },
  };
}

async function makeProducts(svc: Running, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await svc.post('/products', {
      sku: `fault-${Date.now()}-${i}`,
      name: 'p',
      category: 'short',
      priceCents: 100,
      stock: 1_000_000,
    });
    ids.push(res.body.id!);
  }
  return ids;
}

/** Creates `total` orders with `concurrency` clients; `during(progress)` is called as they go. Returns the 201 ids. */
async function createOrders(
  svc: Running,
  products: string[],
  total: number,
  concurrency: number,
  during?: (done: number) => Promise<void> | void,
): Promise<string[]> {
  const acknowledged: string[] = [];
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const res = await svc
          .post('/orders', { customerId: 'fault', items: [{ productId: products[i % products.length], quantity: 1 }] })
          .catch(() => undefined);
        if (res?.status === 201 && res.body.id) acknowledged.push(res.body.id);
        done++;
        await during?.(done);
      }
    }),
  );
  return acknowledged;
}

async function settle(svc: Running, timeoutMs: number): Promise<void> {
  await eventually(
    async () => {
      const row = await svc.db('orders').where({ status: 'PENDING_PAYMENT' }).count({ n: '*' }).first();
      return Number(row?.n) === 0 ? true : undefined;
    },
    timeoutMs,
    'every order to settle',
  );
}

test('when the broker is killed with kill -9 during 5,000 order creations and closes, then every order closes once and stock is conserved', async () => {
  const svc = await startOnPrivate();
  try {
    const products = await makeProducts(svc, 20);
    let killed = false;
    const acknowledged = await createOrders(svc, products, 5000, 16, async (done) => {
      if (!killed && done >= 2000) {
        killed = true;
        await killPrivateBroker();
        // Orders keep being created (201 from the outbox) while the node is down.
        setTimeout(() => void startPrivateBroker(true), 3000);
      }
    });
    expect(acknowledged.length).toBe(5000);
    await settle(svc, 120_000);
    report(await countScenario(svc.db, 'broker kill -9 during 5,000 creations', acknowledged));
  } finally {
    await svc.stop();
  }
}, 240_000);

test('when the database is stopped for 10 s while timeouts fall due, then they are retried and closed afterwards', async () => {
  const svc = await startOnPrivate({ delayLevels: '1s,2s,5s', closer: { maxAttempts: 8 } });
  try {
    const products = await makeProducts(svc, 10);
    const acknowledged = await createOrders(svc, products, 500, 8);
    await stopPrivateDatabase();
    await sleep(10_000);
    await startPrivateDatabase();
    await settle(svc, 90_000);
    const vhost = encodeURIComponent(new URL(svc.amqpUrl).pathname.slice(1));
    const parked = await fetch(`http://127.0.0.1:15673/api/queues/${vhost}/order.timeout.parked`, {
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
    }).then((r) => r.json() as Promise<{ messages?: number }>);
    expect(parked.messages ?? 0).toBe(0);
    report(await countScenario(svc.db, 'database stopped 10 s', acknowledged));
  } finally {
    await svc.stop();
  }
}, 180_000);

test('when the broker hangs (SIGSTOP) for longer than the heartbeat, then order creation does not hang and the outbox catches up', async () => {
  const svc = await startOnPrivate();
  try {
    const products = await makeProducts(svc, 10);
    pausePrivateBroker();
    let acknowledged: string[];
    let errors: { last_error: string | null; n: number }[];
    try {
      // Every create answers while the broker hangs: the publish after commit is not awaited by the request.
      acknowledged = await createOrders(svc, products, 300, 4);
      await sleep(6000); // past two heartbeats and the publish timeout
      errors = await svc.db('outbox').whereNull('sent_at').select('last_error').count({ n: '*' }).groupBy('last_error');
    } finally {
      resumePrivateBroker();
    }
    expect(acknowledged.length).toBe(300);
    // The publishes in flight gave up (confirm timeout, or the connection declared dead) instead of hanging.
    expect(errors.filter((e) => /timeout|not connected|closed/i.test(e.last_error ?? '')).length).toBeGreaterThan(0);
    const waiting = await svc.db('outbox').whereNull('sent_at').count({ n: '*' }).first();
    expect(Number(waiting?.n)).toBeGreaterThan(0);
    await eventually(
      async () => {
        const row = await svc.db('outbox').whereNull('sent_at').count({ n: '*' }).first();
        return Number(row?.n) === 0 ? true : undefined;
      },
      60_000,
      'the outbox to catch up',
    );
    await settle(svc, 60_000);
    report(await countScenario(svc.db, 'broker paused (SIGSTOP) past the heartbeat', acknowledged));
  } finally {
    await svc.stop();
  }
}, 180_000);
