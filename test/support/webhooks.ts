import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EVENTS_EXCHANGE } from '../../src/messaging/topology';
import { withChannel } from './amqp';

/** A fresh `whsec_` secret: 32 random bytes, as a receiver's operator would generate one. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** What a receiver does with a request: answer with a status, hang (never answer), or drop the connection. */
export type Behaviour = number | 'hang' | 'reset';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  /** The raw body, as signed. */
  body: string;
  at: number;
  /** What the receiver answered. */
  answered: Behaviour;
}

/** A real HTTP server on 127.0.0.1, on a port the OS picks, that records every request. */
export interface Receiver {
  url: string;
  received: ReceivedWebhook[];
  /** Behaviour of the n-th request (0-based); change it at any time. */
  behave: (n: number) => Behaviour;
  /** Stops listening and drops open connections: connecting is refused (ECONNREFUSED) until `listen`. */
  refuse(): Promise<void>;
  /** Listens again, on the port it had. */
  listen(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(behave: (n: number) => Behaviour): Promise<Receiver> {
  const received: ReceivedWebhook[] = [];
  const hanging = new Set<ServerResponse>();
  const unused = async () => undefined;
  const receiver: Receiver = { url: '', received, behave, refuse: unused, listen: unused, close: unused };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answered = receiver.behave(received.length);
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now(), answered });
      if (answered === 'reset') req.socket.destroy();
      else if (answered === 'hang') hanging.add(res);
      else res.writeHead(answered, { 'content-type': 'text/plain' }).end(`answered ${answered}`);
    });
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${port}/hooks`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  receiver.close = stop;
  receiver.refuse = stop;
  // The port the OS gave it at first: taking it again is safe unless something else bound it meanwhile
  // (then this rejects with EADDRINUSE, and the test fails rather than sending hooks elsewhere).
  receiver.listen = () => listen(port);
  return receiver;
}

/**
 * Standard Webhooks verification written from the spec, independently of the service's code: the key is the
 * base64 after `whsec_`; `webhook-signature` is a space-separated list of `v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">`; one match (constant-time compare) is enough; the timestamp must be recent.
 */
export function verifyStandardWebhook(
  secret: string,
  headers: IncomingHttpHeaders,
  body: string,
  toleranceSeconds = 300,
): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    if (version !== 'v1' || !signature) return false;
    const given = Buffer.from(signature, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** An order event as the outbox relay publishes it: CloudEvents 1.0, AMQP binary mode (contract section 9). */
export interface TestEvent {
  id: string;
  type: string;
  orderId: string;
  time: string;
  order: Record<string, unknown>;
}

export function testEvent(type = 'created', orderId = String(1000 + Math.floor(Math.random() * 1000))): TestEvent {
  const time = new Date().toISOString();
  return {
    id: randomUUID(),
    type: `order.${type}`,
    orderId,
    time,
    order: { id: orderId, customerId: 'c-1', status: 'PENDING_PAYMENT', totalCents: 1350, createdAt: time },
  };
}

/** Publishes events to `order.events` (routing key = type) and waits for the broker's confirms. */
export async function publishEvents(amqpUrl: string, events: TestEvent[], sequence = true): Promise<void> {
  await withChannel(amqpUrl, async (ch) => {
    events.forEach((e, i) => {
      ch.publish(EVENTS_EXCHANGE, e.type, Buffer.from(JSON.stringify(e.order)), {
        persistent: true,
        contentType: 'application/json',
        messageId: e.id,
        headers: {
          cloudEvents_specversion: '1.0',
          cloudEvents_id: e.id,
          cloudEvents_source: 'order-timeout',
          cloudEvents_type: e.type,
          cloudEvents_subject: e.orderId,
          cloudEvents_time: e.time,
          ...(sequence ? { cloudEvents_sequence: String(i + 1) } : {}),
        },
      });
    });
    await ch.waitForConfirms();
  });
}

/** The `webhook-id`s a receiver answered with 2xx. */
export const deliveredIds = (r: Receiver) =>
  r.received
    .filter((w) => typeof w.answered === 'number' && w.answered >= 200 && w.answered < 300)
    .map((w) => String(w.headers['webhook-id']));
