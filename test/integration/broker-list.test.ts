import { createServer } from 'node:net';
import { loadConfig } from '../../src/config';
import { logger } from '../../src/log';
import { startService, type ServiceHandle } from '../../src/main';
import { PARKED_QUEUE } from '../../src/messaging/topology';
import { runCli } from '../support/cli';
import { parkMessages, topologyVhost } from '../support/parked';
import { deleteVhost, dropDatabase, eventually, scratchDatabaseUrl, scratchVhost } from '../support/scratch';

// AMQP_URL as a list (contract §11): a first node that refuses connections is passed over for the next one.

/** A port below 32768 that nothing listens on right now (connecting to it is refused). */
async function closedPort(): Promise<number> {
  for (let port = 5601; port < 5670; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no closed port found in 5601-5669');
}

/** The same URL (credentials and vhost) on another port. */
const onPort = (url: string, port: number) => {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
};

test('when the first node of AMQP_URL is down, then the service connects to the second, logs which node it uses without the password, and closes orders through it', async () => {
  const dbUrl = scratchDatabaseUrl();
  const { vhost, url } = await scratchVhost();
  const dead = onPort(url, await closedPort());
  const lines: { message: string; meta: Record<string, unknown> }[] = [];
  const spy = jest.spyOn(logger, 'log').mockImplementation(((level: unknown, message: unknown, meta: unknown) => {
    if (typeof level === 'string' && typeof message === 'string')
      lines.push({ message, meta: (meta ?? {}) as Record<string, unknown> });
    return logger;
  }) as never);
  let svc: ServiceHandle | undefined;
  try {
    const config = loadConfig({
      http: { port: 0 },
      mysql: { url: dbUrl },
      amqp: { url: `${dead}, ${url}` },
      delayLevels: '1s,2s',
      orderPaymentTimeouts: { default: '15m', short: '1s' },
      sweeper: { interval: '1h' },
    });
    svc = await startService(config);
    const base = `http://127.0.0.1:${svc.port}`;
    await eventually(async () => (await fetch(`${base}/readyz`)).status === 200, 20_000, 'the service to be ready');

    const connected = lines.filter((l) => l.message === 'broker connected');
    expect(connected.at(-1)?.meta).toMatchObject({ node: new URL(url).host, nodes: 2 });
    expect(lines.some((l) => l.message === 'broker connection failed' && l.meta.node === new URL(dead).host)).toBe(
      true,
    );
    expect(JSON.stringify(lines)).not.toMatch(/guest:guest@/);

    const post = (path: string, body: unknown) =>
      fetch(base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json() as Promise<{ id: string }>);
    const product = await post('/products', { sku: 'LIST-1', name: 'p', category: 'short', priceCents: 1, stock: 1 });
    const order = await post('/orders', { customerId: 'c', items: [{ productId: product.id, quantity: 1 }] });
    // Read from the database: a GET of the order (or of its events) past its deadline would close it on read
    // before a timeout message delayed by a busy machine arrives.
    const db = svc.db;
    await eventually(
      async () => {
        const closes = await db('order_events').where({ order_id: order.id, to_status: 'CLOSED' }).select('source');
        if (closes.length > 0) expect(closes).toEqual([{ source: 'timeout' }]);
        return closes.length > 0 ? true : undefined;
      },
      30_000,
      'the order to be closed by its timeout message',
    ).catch((err: Error) => {
      // What the service said meanwhile tells a slow broker from a connection that kept flapping.
      throw new Error(`${err.message}; the service logged:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    });
  } finally {
    spy.mockRestore();
    await svc?.stop();
    await dropDatabase(dbUrl);
    await deleteVhost(vhost);
  }
});

test('when the CLI is given a list whose first node is down, then it works through the second', async () => {
  const v = await topologyVhost();
  try {
    await parkMessages(v.url, [{ messageId: 'list-1', orderId: '1', reason: 'order not found' }]);
    const res = await runCli(['dead-letters', 'list', '--json'], {
      AMQP_URL: `${onPort(v.url, await closedPort())},${v.url}`,
    });
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(res.stdout)).toMatchObject({ queue: PARKED_QUEUE, total: 1 });

    const none = await runCli(['dead-letters', 'list'], { AMQP_URL: onPort(v.url, await closedPort()) });
    expect(none.code).toBe(2);
    expect(none.stderr).not.toContain('guest:guest@');
  } finally {
    await v.destroy();
  }
});
