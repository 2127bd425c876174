import net from 'node:net';
import { countScenario, report } from './support/invariants';
import { makeOrder, makeProduct, stockOf } from '../support/fixtures';
import { sleep } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

/**
 * Connection flood (issue 6): 500 concurrent connections that send the headers of a POST with a Content-Length
 * and then dribble the body a byte at a time, stall after the headers, or never finish the headers. While they
 * hang the service answers /healthz and creates orders; then its own timeouts (http.requestTimeout,
 * http.headersTimeout, shortened here) close them with 408, and it stays up.
 */

const CONNECTIONS = 500;
const REQUEST_TIMEOUT_MS = 6_000;
const HEADERS_TIMEOUT_MS = 3_000;

type Kind = 'dribble' | 'stalled-body' | 'stalled-headers';

interface Slow {
  kind: Kind;
  socket: net.Socket;
  openedAt: number;
  closedAt?: number;
  received: string;
  error?: string;
  timer?: NodeJS.Timeout;
}

let svc: TestService;
const slow: Slow[] = [];

function open(kind: Kind, port: number): Promise<Slow> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const entry: Slow = { kind, socket, openedAt: Date.now(), received: '' };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (entry.received += chunk));
    socket.on('error', (err) => (entry.error = err.message));
    socket.on('close', () => {
      entry.closedAt = Date.now();
      clearInterval(entry.timer);
    });
    socket.once('connect', () => {
      const body = JSON.stringify({ customerId: 'slow', items: [{ productId: '1', quantity: 1 }] }).padEnd(1_000, ' ');
      const head = `POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n`;
      if (kind === 'stalled-headers') {
        socket.write(head); // no blank line: the headers never end
      } else {
        socket.write(`${head}\r\n`);
        if (kind === 'dribble') {
          let sent = 0;
          entry.timer = setInterval(
            () => {
              if (socket.destroyed || sent >= body.length) return clearInterval(entry.timer);
              socket.write(body[sent++]!);
            },
            250 + Math.floor(Math.random() * 250),
          );
        }
      }
      resolve(entry);
    });
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  svc = await startTestService({
    http: { requestTimeout: `${REQUEST_TIMEOUT_MS}ms`, headersTimeout: `${HEADERS_TIMEOUT_MS}ms` },
  });
});

afterAll(async () => {
  for (const s of slow) {
    clearInterval(s.timer);
    s.socket.destroy();
  }
  await svc?.destroy();
});

describe('connection flood', () => {
  it('when 500 connections send slow bodies, then /healthz answers, orders are created, and the server times them out', async () => {
    const productId = (await makeProduct(svc, { stock: 100 })).id;
    const acknowledged: string[] = [];
    const kinds: Kind[] = ['dribble', 'dribble', 'stalled-body', 'stalled-headers'];
    const started = Date.now();
    const opened = await Promise.all(
      Array.from({ length: CONNECTIONS }, (_, i) => open(kinds[i % kinds.length]!, svc.port)),
    );
    slow.push(...opened);
    await sleep(500);
    expect(slow.filter((s) => s.closedAt !== undefined)).toHaveLength(0); // all of them are hanging now

    // While they hang: health, readiness and a real order, each answered promptly.
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      const res = await fetch(`${svc.baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
      latencies.push(Date.now() - t0);
      expect(res.status).toBe(200);
      await sleep(200);
    }
    expect(Math.max(...latencies)).toBeLessThan(1_000);
    const t0 = Date.now();
    const order = await makeOrder(svc, [{ productId: productId, quantity: 2 }]);
    const orderMs = Date.now() - t0;
    acknowledged.push(order.id);
    expect(order.status).toBe('PENDING_PAYMENT');
    expect(orderMs).toBeLessThan(2_000);
    expect((await svc.api('GET', '/readyz')).status).toBe(200);
    const hangingWhileServed = slow.filter((s) => s.closedAt === undefined).length;
    expect(hangingWhileServed).toBe(CONNECTIONS);

    // The server's own timeouts close every slow connection, with 408 where it can still answer.
    const deadline = started + REQUEST_TIMEOUT_MS + 5_000;
    while (slow.some((s) => s.closedAt === undefined) && Date.now() < deadline) await sleep(100);
    const open_ = slow.filter((s) => s.closedAt === undefined);
    const byKind = (kind: Kind) => slow.filter((s) => s.kind === kind);
    const closedAfter = (kind: Kind) => byKind(kind).map((s) => (s.closedAt ?? Infinity) - s.openedAt);
    const got408 = slow.filter((s) => s.received.startsWith('HTTP/1.1 408')).length;
    const summary = {
      stillOpen: open_.length,
      got408,
      dribbleClosedAfterMs: [Math.min(...closedAfter('dribble')), Math.max(...closedAfter('dribble'))],
      stalledBodyClosedAfterMs: [Math.min(...closedAfter('stalled-body')), Math.max(...closedAfter('stalled-body'))],
      stalledHeadersClosedAfterMs: [
        Math.min(...closedAfter('stalled-headers')),
        Math.max(...closedAfter('stalled-headers')),
      ],
      healthzMaxMs: Math.max(...latencies),
      orderMs,
    };
    process.stdout.write(`connection-flood: ${JSON.stringify(summary)}\n`);
    expect(open_).toHaveLength(0);
    // Headers that never end are cut at headersTimeout, bodies at requestTimeout (checked every second).
    for (const ms of closedAfter('stalled-headers')) expect(ms).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    for (const ms of [...closedAfter('dribble'), ...closedAfter('stalled-body')])
      expect(ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(got408).toBe(CONNECTIONS);
    // None of the half-sent orders was created, and nothing else moved.
    expect(await stockOf(svc, productId)).toBe(98);

    // Still up: health, and another order.
    expect((await svc.api('GET', '/healthz')).status).toBe(200);
    acknowledged.push((await makeOrder(svc, [{ productId: productId, quantity: 1 }])).id);
    expect(await stockOf(svc, productId)).toBe(97);
    report(await countScenario(svc.db, 'connection-flood', acknowledged));
  }, 60_000);
});
