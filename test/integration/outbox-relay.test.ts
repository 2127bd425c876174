import type { Knex } from 'knex';
import { parseDelayLevels } from '../../src/domain/delay-plan';
import { randomUUID } from 'node:crypto';
import type { OutboxMessage } from '../../src/db/outbox-repo';
import { OutboxRelay, type OutboxRelayOptions } from '../../src/messaging/outbox-relay';
import type { Publisher } from '../../src/messaging/publisher';
import { eventually, insertUnsentOutbox, migratedScratchDatabase } from '../support/scratch';

// A database of its own and no running service: nothing else may claim the rows while the relay under test runs.
let scratch: Awaited<ReturnType<typeof migratedScratchDatabase>>;
let db: Knex;
beforeAll(async () => {
  scratch = await migratedScratchDatabase();
  db = scratch.db;
});
afterAll(async () => scratch?.destroy());
beforeEach(async () => {
  await db('outbox').del();
});

const insertUnsent = (count: number) => insertUnsentOutbox(db, count);

/** The relay's process id, which also owns the rows its process writes. */
const OWNER = 'relay-under-test';

function relayOptions(publisher: Pick<Publisher, 'isConnected' | 'publish'>): OutboxRelayOptions {
  return {
    db,
    publisher: publisher as Publisher,
    levels: parseDelayLevels('1s,2s,5s'),
    processId: OWNER,
    claimForMs: 30_000,
    intervalMs: 60_000,
    batchSize: 2,
    now: () => new Date(),
  };
}

const relayWith = (publisher: Pick<Publisher, 'isConnected' | 'publish'>) => new OutboxRelay(relayOptions(publisher));

/** Resolves to 'returned' when the round ends, 'still running' when it has not after `ms`. */
async function roundWithin(relay: OutboxRelay, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running'), ms)));
  // The timer is cleared either way: a pending one would keep the Jest worker from exiting.
  return Promise.race([relay.relayOnce().then(() => 'returned'), late]).finally(() => clearTimeout(timer));
}

test('when every publish fails and a full batch is waiting, then a relay round ends instead of re-claiming the released rows in a hot loop', async () => {
  await insertUnsent(5);
  let publishes = 0;
  const relay = relayWith({
    isConnected: () => true,
    publish: async () => {
      publishes++;
      throw new Error('message was unroutable');
    },
  });

  expect(await roundWithin(relay, 3000)).toBe('returned');
  // One claim of one batch: each row claimed at most once, and released for the next round.
  expect(publishes).toBe(2);
  const rows: { attempts: number; claimed_until: Date | null; sent_at: Date | null }[] = await db('outbox').select(
    'attempts',
    'claimed_until',
    'sent_at',
  );
  expect(Math.max(...rows.map((r) => r.attempts))).toBe(1);
  expect(rows.every((r) => r.sent_at === null && r.claimed_until === null)).toBe(true);
});

test('when the broker drops in the middle of a round, then the round ends and the rows wait, unclaimed, for the next one', async () => {
  await insertUnsent(5);
  let checks = 0;
  // Connected when the round starts, gone by the time the claimed rows are about to be published.
  const relay = relayWith({ isConnected: () => checks++ === 0, publish: async () => undefined });

  expect(await roundWithin(relay, 3000)).toBe('returned');
  const rows: { attempts: number; claimed_until: Date | null; sent_at: Date | null }[] = await db('outbox').select(
    'attempts',
    'claimed_until',
    'sent_at',
  );
  expect(Math.max(...rows.map((r) => r.attempts))).toBe(1);
  expect(rows.every((r) => r.sent_at === null && r.claimed_until === null)).toBe(true);
});

test('when every publish succeeds, then one round sends the whole backlog, batch after batch', async () => {
  await insertUnsent(5);
  let publishes = 0;
  const relay = relayWith({
    isConnected: () => true,
    publish: async () => {
      publishes++;
    },
  });

  expect(await roundWithin(relay, 3000)).toBe('returned');
  expect(publishes).toBe(5);
  expect(await db('outbox').whereNull('sent_at').count({ n: '*' }).first()).toEqual({ n: 0 });
});

/**
 * One unsent timeout row and one unsent order event row, as a transaction of this process committed them at
 * `writtenAt`, each claimed by it for `claimForMs` from then.
 */
async function committedTimeoutAndEvent(
  writtenAt = new Date(),
  claimForMs = 30_000,
): Promise<{ timeout: OutboxMessage; event: OutboxMessage }> {
  const claim = { created_at: writtenAt, claimed_by: OWNER, claimed_until: new Date(writtenAt.getTime() + claimForMs) };
  const message = (kind: string, payload: string, sequence: number | null) => ({
    message_id: randomUUID(),
    kind,
    order_id: 1,
    payload,
    sequence,
    ...claim,
  });
  const timeoutPayload = JSON.stringify({ orderId: '1', expiresAt: new Date(Date.now() + 3_600_000), attempt: 0 });
  const rows = [message('order.timeout', timeoutPayload, null), message('order.closed', '{}', 1)];
  const [firstId]: number[] = await db('outbox').insert(rows);
  const [timeout, event] = rows.map((r, i): OutboxMessage => ({
    id: String(firstId! + i),
    messageId: r.message_id,
    kind: r.kind,
    orderId: '1',
    payload: r.payload,
    attempts: 0,
    createdAt: writtenAt,
    sequence: r.sequence,
  }));
  return { timeout: timeout!, event: event! };
}

/** A publisher that records the message ids it was asked to publish. */
function recordingPublisher(published: string[]): Pick<Publisher, 'isConnected' | 'publish'> {
  return {
    isConnected: () => true,
    publish: async (_exchange, _key, _body, options) => {
      published.push(String(options?.messageId));
    },
  };
}

test('when order events are held back by a backlog drain, then timeouts committed meanwhile still go out at once, and the events go out once the drain ends', async () => {
  const { timeout, event } = await committedTimeoutAndEvent();
  const published: string[] = [];
  let drainEnds!: () => void;
  const drain = new Promise<void>((resolve) => (drainEnds = resolve));
  const relay = new OutboxRelay({
    ...relayOptions(recordingPublisher(published)),
    eventsMayGo: () => drain,
  });

  relay.publishNow([timeout, event]);
  await eventually(async () => (published.includes(timeout.messageId) ? true : undefined), 5000, 'the timeout');
  expect(published).not.toContain(event.messageId);

  drainEnds();
  await eventually(async () => (published.includes(event.messageId) ? true : undefined), 5000, 'the event');
  await relay.stop();
  expect(await db('outbox').whereNull('sent_at').count({ n: '*' }).first()).toEqual({ n: 0 });
});

const drainThatNeverEnds = () => new Promise<void>(() => undefined);

test('when a backlog drain outlasts half the claim, then the order events it held go out anyway, their claims renewed first', async () => {
  const claimForMs = 4000;
  const writtenAt = new Date();
  const { timeout, event } = await committedTimeoutAndEvent(writtenAt, claimForMs);
  const published: string[] = [];
  let claimWhenPublished: Date | null | undefined;
  const publisher = recordingPublisher(published);
  const relay = new OutboxRelay({
    ...relayOptions({
      ...publisher,
      publish: async (...args) => {
        if (args[3]?.messageId === event.messageId)
          claimWhenPublished = (await db('outbox').where({ id: event.id }).first<{ claimed_until: Date | null }>())
            ?.claimed_until;
        await publisher.publish(...args);
      },
    }),
    claimForMs,
    eventsMayGo: drainThatNeverEnds,
  });

  relay.publishNow([timeout, event]);
  await eventually(async () => (published.includes(timeout.messageId) ? true : undefined), 5000, 'the timeout');
  expect(published).not.toContain(event.messageId); // held for half the claim first
  await eventually(async () => (published.includes(event.messageId) ? true : undefined), 10_000, 'the held event');
  await relay.stop();
  expect(published).toEqual([timeout.messageId, event.messageId]);
  // Renewed before it went out: its claim then ran past the one it was written with.
  expect(claimWhenPublished!.getTime()).toBeGreaterThan(writtenAt.getTime() + claimForMs);
  const row = await db('outbox').where({ message_id: event.messageId }).first<{ sent_at: Date | null }>();
  expect(row?.sent_at).not.toBeNull();
});

test('when an order event has already waited half its claim, then a drain does not hold it any longer', async () => {
  const { event } = await committedTimeoutAndEvent(new Date(Date.now() - 31_000), 60_000);
  const published: string[] = [];
  const relay = new OutboxRelay({
    ...relayOptions(recordingPublisher(published)),
    claimForMs: 60_000,
    eventsMayGo: drainThatNeverEnds,
  });

  relay.publishNow([event]);
  // Held from when it was handed over, it would wait another 30 s.
  await eventually(async () => (published.includes(event.messageId) ? true : undefined), 10_000, 'the event');
  await relay.stop();
});

test('when the claim of a held order event lapsed meanwhile, then it is left to whichever relay claims it, not published twice', async () => {
  const { event } = await committedTimeoutAndEvent(new Date(Date.now() - 31_000), 30_000);
  const published: string[] = [];
  const relay = new OutboxRelay({
    ...relayOptions(recordingPublisher(published)),
    eventsMayGo: drainThatNeverEnds,
  });

  relay.publishNow([event]);
  await relay.stop(); // the lane has done with it
  expect(published).toEqual([]);
  const row = await db('outbox').where({ message_id: event.messageId }).first<{ sent_at: Date | null }>();
  expect(row?.sent_at).toBeNull();
  await relay.relayOnce(); // a relay round claims the lapsed row (and the timeout beside it) and sends it, once
  expect(published.filter((id) => id === event.messageId)).toHaveLength(1);
});
