import type { Knex } from 'knex';
import { parseDelayLevels } from '../../src/domain/delay-plan';
import { OutboxRelay } from '../../src/messaging/outbox-relay';
import type { Publisher } from '../../src/messaging/publisher';
import { insertUnsentOutbox, migratedScratchDatabase } from '../support/scratch';

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

function relayWith(publisher: Pick<Publisher, 'isConnected' | 'publish'>): OutboxRelay {
  return new OutboxRelay({
    db,
    publisher: publisher as Publisher,
    levels: parseDelayLevels('1s,2s,5s'),
    processId: 'relay-under-test',
    claimForMs: 30_000,
    intervalMs: 60_000,
    batchSize: 2,
    now: () => new Date(),
  });
}

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
