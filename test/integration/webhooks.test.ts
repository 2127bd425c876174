import { spawn } from 'node:child_process';
import path from 'node:path';
import { WEBHOOK_PARKED_QUEUE, webhookQueueName } from '../../src/messaging/topology';
import { targetId } from '../../src/webhooks/targets';
import { queueDepth } from '../support/amqp';
import { runCli } from '../support/cli';
import { eventually, management } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';
import {
  deliveredIds,
  newWebhookSecret,
  publishEvents,
  startReceiver,
  testEvent,
  verifyStandardWebhook,
  type Receiver,
} from '../support/webhooks';

const running: { destroy(): Promise<void> }[] = [];
const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.destroy()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

/** The service with webhooks to `urls`; the delay levels of test.json (1s, 2s, 5s) unless told. */
async function serviceWithWebhooks(
  urls: string[],
  secret: string,
  webhooks: Record<string, unknown> = {},
  more: Record<string, unknown> = {},
): Promise<TestService> {
  const service = await startTestService({
    webhooks: { urls, secret, timeout: '10s', maxAge: '1h', concurrency: 2, ...webhooks },
    ...more,
  });
  running.push(service);
  return service;
}

/** Messages (ready and unacknowledged) in the webhook queues of the service's vhost: URL queues, retries, parked. */
async function webhookMessages(service: TestService): Promise<number> {
  const queues = (await management(`/queues/${encodeURIComponent(service.vhost)}`)) as {
    name: string;
    messages?: number;
  }[];
  return queues.filter((q) => q.name.startsWith('order.webhooks.')).reduce((sum, q) => sum + (q.messages ?? 0), 0);
}

const metricValue = async (service: TestService, series: string): Promise<number> => {
  const text = await (await fetch(`${service.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
};

test('when an event is published, then each URL gets it once as structured CloudEvents JSON, signed per Standard Webhooks', async () => {
  const secret = newWebhookSecret();
  const [a, b] = [await receiver(() => 200), await receiver(() => 204)];
  const service = await serviceWithWebhooks([a.url, b.url], secret);
  const event = testEvent('closed');
  await publishEvents(service.config.amqp.url, [event]);

  await eventually(async () => a.received.length === 1 && b.received.length === 1, 15_000, 'both deliveries');
  for (const r of [a, b]) {
    const [hook] = r.received;
    expect(hook!.headers['content-type']).toBe('application/cloudevents+json');
    expect(hook!.headers['webhook-id']).toBe(event.id);
    expect(Math.abs(Number(hook!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
    expect(hook!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(verifyStandardWebhook(secret, hook!.headers, hook!.body)).toBe(true);
    // The check can fail: another body, another secret or a stale timestamp do not verify.
    expect(verifyStandardWebhook(secret, hook!.headers, hook!.body.replace('1350', '1351'))).toBe(false);
    expect(verifyStandardWebhook(newWebhookSecret(), hook!.headers, hook!.body)).toBe(false);
    expect(verifyStandardWebhook(secret, { ...hook!.headers, 'webhook-timestamp': '1614265330' }, hook!.body)).toBe(
      false,
    );
    expect(JSON.parse(hook!.body)).toEqual({
      specversion: '1.0',
      id: event.id,
      source: 'order-timeout',
      type: 'order.closed',
      subject: event.orderId,
      time: event.time,
      sequence: '1',
      datacontenttype: 'application/json',
      data: event.order,
    });
  }
  expect(
    await metricValue(service, 'order_timeout_webhook_deliveries_total{target="0",outcome="delivered",attempt="1"}'),
  ).toBe(1);
  expect(
    await metricValue(service, 'order_timeout_webhook_deliveries_total{target="1",outcome="delivered",attempt="1"}'),
  ).toBe(1);
});

test('when a receiver answers 500 three times, then it gets the event on the fourth attempt, after growing waits, with the same webhook-id', async () => {
  const secret = newWebhookSecret();
  const flaky = await receiver((n) => (n < 3 ? 500 : 200));
  const service = await serviceWithWebhooks([flaky.url], secret);
  const event = testEvent('paid');
  await publishEvents(service.config.amqp.url, [event]);

  await eventually(async () => deliveredIds(flaky).length === 1, 30_000, 'the delivery after three 500s');
  expect(flaky.received.map((w) => w.answered)).toEqual([500, 500, 500, 200]);
  expect(new Set(flaky.received.map((w) => w.headers['webhook-id']))).toEqual(new Set([event.id]));
  for (const w of flaky.received) expect(verifyStandardWebhook(secret, w.headers, w.body)).toBe(true);
  // Back-off through the levels of test.json: 1 s, 2 s, 5 s.
  const gaps = flaky.received.slice(1).map((w, i) => w.at - flaky.received[i]!.at);
  expect(gaps[0]).toBeGreaterThanOrEqual(950);
  expect(gaps[1]).toBeGreaterThanOrEqual(1_950);
  expect(gaps[2]).toBeGreaterThanOrEqual(4_950);
  expect(gaps[0]!).toBeLessThan(gaps[1]!);
  expect(gaps[1]!).toBeLessThan(gaps[2]!);

  const series = (outcome: string, attempt: string) =>
    metricValue(
      service,
      `order_timeout_webhook_deliveries_total{target="0",outcome="${outcome}",attempt="${attempt}"}`,
    );
  expect([await series('retried', '1'), await series('retried', '2'), await series('retried', '3-5')]).toEqual([
    1, 1, 1,
  ]);
  expect(await series('delivered', '3-5')).toBe(1);
  expect(await queueDepth(service.config.amqp.url, WEBHOOK_PARKED_QUEUE)).toBe(0);
});

test('when receivers stay down past the max age, then their deliveries are parked with the reason and URL, and replay delivers them once they are up', async () => {
  const secret = newWebhookSecret();
  const down = await receiver(() => 'reset');
  const failing = await receiver(() => 503);
  // Levels shorter than 4 s: 1 s and 2 s, so attempts at 0, 1 and 3 s; the next would start after 4 s: parked.
  const service = await serviceWithWebhooks([down.url, failing.url], secret, { maxAge: '4s' });
  const amqpUrl = service.config.amqp.url;
  const event = testEvent('cancelled');
  await publishEvents(amqpUrl, [event]);

  await eventually(
    async () => (await queueDepth(amqpUrl, WEBHOOK_PARKED_QUEUE)) === 2,
    30_000,
    'two parked deliveries',
  );
  expect(down.received).toHaveLength(3);
  expect(failing.received).toHaveLength(3);
  const listed = await runCli(['dead-letters', 'list', '--queue', WEBHOOK_PARKED_QUEUE, '--json'], {
    AMQP_URL: amqpUrl,
  });
  expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: '' });
  const letters = (JSON.parse(listed.stdout) as { messages: Record<string, unknown>[] }).messages;
  const byUrl = Object.fromEntries(letters.map((l) => [l.url, l]));
  expect(byUrl[failing.url]).toMatchObject({
    messageId: event.id,
    orderId: event.orderId,
    attempts: 3,
    reason: 'HTTP 503 (gave up after 3 attempts)',
    firstDeath: null,
  });
  expect(byUrl[down.url]).toMatchObject({ messageId: event.id, orderId: event.orderId, attempts: 3 });
  expect(byUrl[down.url]!.reason).toMatch(/^connection failed: .+ \(gave up after 3 attempts\)$/);
  const table = await runCli(['dead-letters', 'list', '--queue', WEBHOOK_PARKED_QUEUE], { AMQP_URL: amqpUrl });
  expect(table.stdout.split('\n')[0]).toMatch(/\burl$/);
  expect(
    await metricValue(service, 'order_timeout_webhook_deliveries_total{target="1",outcome="parked",attempt="3-5"}'),
  ).toBe(1);

  // Both receivers come back; the replay sends each parked delivery to its own URL's queue, attempts reset.
  down.behave = () => 200;
  failing.behave = () => 200;
  const replay = await runCli(['dead-letters', 'replay', '--queue', WEBHOOK_PARKED_QUEUE, '--json'], {
    AMQP_URL: amqpUrl,
  });
  expect(replay.code).toBe(0);
  expect(JSON.parse(replay.stdout)).toMatchObject({ matched: 2, moved: 2, failed: 0 });
  await eventually(
    async () => deliveredIds(down).length === 1 && deliveredIds(failing).length === 1,
    15_000,
    'replayed deliveries',
  );
  for (const r of [down, failing]) {
    const last = r.received[r.received.length - 1]!;
    expect(last.headers['webhook-id']).toBe(event.id);
    expect(verifyStandardWebhook(secret, last.headers, last.body)).toBe(true);
  }
  // Delivered once each: acknowledged, with nothing left in a URL queue or a retry delay to come again.
  await eventually(async () => (await webhookMessages(service)) === 0, 15_000, 'the webhook queues to empty');
  expect([deliveredIds(down), deliveredIds(failing)]).toEqual([[event.id], [event.id]]);
  expect([down.received.length, failing.received.length]).toEqual([4, 4]);
});

test('when one receiver hangs, then a second URL gets every event at once and the closer closes orders on time', async () => {
  const secret = newWebhookSecret();
  const hanging = await receiver(() => 'hang');
  const quick = await receiver(() => 200);
  const service = await serviceWithWebhooks(
    [hanging.url, quick.url],
    secret,
    { timeout: '20s' },
    { orderPaymentTimeouts: { default: '2s' } },
  );
  const product = await service.api('POST', '/products', {
    sku: 'HOOK-1',
    name: 'Hook',
    category: 'default',
    priceCents: 100,
    stock: 5,
  });
  const order = await service.api('POST', '/orders', {
    customerId: 'c-1',
    items: [{ productId: product.body.id, quantity: 1 }],
  });
  expect(order.status).toBe(201);
  const events = Array.from({ length: 20 }, (_, i) => testEvent('created', String(i + 1)));
  const published = Date.now();
  await publishEvents(service.config.amqp.url, events);

  // Far sooner than the 20 s the hanging receiver's attempts may take.
  // The service's own events (the order's created and closed) come too; the test counts those it published.
  const ours = new Set(events.map((e) => e.id));
  const oursAt = (r: typeof quick) => deliveredIds(r).filter((id) => ours.has(id));
  await eventually(async () => oursAt(quick).length === 20, 10_000, 'all 20 events at the quick receiver');
  expect(Date.now() - published).toBeLessThan(10_000);
  expect(new Set(oursAt(quick))).toEqual(ours);
  // The hanging URL holds at most its concurrency (2) in flight; the rest waits in its own queue.
  expect(hanging.received.length).toBeLessThanOrEqual(2);
  expect(await queueDepth(service.config.amqp.url, webhookQueueName(targetId(hanging.url)))).toBeGreaterThanOrEqual(18);

  const closed = await eventually(
    async () => {
      const res = await service.api('GET', `/orders/${order.body.id}`);
      return res.body.status === 'CLOSED' ? res.body : undefined;
    },
    10_000,
    'the order to close',
  );
  expect(new Date(closed.closedAt).getTime() - new Date(closed.expiresAt).getTime()).toBeLessThan(1_000);
});

describe('configuration', () => {
  const root = path.join(__dirname, '..', '..');
  /** Starts src/main.ts with `env` and returns its exit code and output; config errors exit before any connection. */
  const start = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'src/main.ts'], {
        cwd: root,
        env: { ...process.env, HTTP_PORT: '0', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  test.each([
    ['not whsec_', 'c2VjcmV0LXdpdGhvdXQtcHJlZml4LTEyMzQ1Njc4OTA=', 'must start with whsec_'],
    ['not base64', 'whsec_this is not base64!!', 'is not base64'],
    ['too short', 'whsec_c2hvcnQ=', 'is 5 bytes; it must be 24 to 64'],
    ['missing', '', 'required when WEBHOOK_URLS is set'],
  ])(
    'when WEBHOOK_SECRET is %s, then start-up fails with one line naming it, without the secret',
    async (_, secret, why) => {
      const res = await start({ WEBHOOK_URLS: 'https://hooks.example/a', WEBHOOK_SECRET: secret });
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr.trimEnd().split('\n')).toEqual([
        'Invalid configuration:',
        expect.stringMatching(
          new RegExp(`^  webhooks\\.secret \\(WEBHOOK_SECRET\\): .*${why.replace(/[().]/g, '\\$&')}`),
        ),
      ]);
      if (secret) expect(res.stderr).not.toContain(secret.replace(/^whsec_/, ''));
    },
  );
});
