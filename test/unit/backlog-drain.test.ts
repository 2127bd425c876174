import type { FiredOrder } from '../../src/db/order-transitions';
import { PAYMENT_TIMEOUT, type TimerKind } from '../../src/domain/timer-kinds';
import { BacklogDrain } from '../../src/messaging/backlog-drain';

// The drain's coordination, with a `fire` that stands in for one transaction over a table of `due` orders.

const firedOrders = (n: number): FiredOrder[] =>
  Array.from({ length: n }, (_, i) => ({
    id: String(i),
    category: 'c',
    dueAt: new Date(0),
    firedAt: new Date(0),
    returned: {},
  }));

/** A table of `due` orders fired `limit` at a time; records how many transactions ran at once. */
function table(due: number, opts: { failOn?: number } = {}) {
  const state = { due, transactions: 0, inFlight: 0, maxInFlight: 0 };
  const fire = async (_kind: TimerKind, limit: number) => {
    state.transactions++;
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    await new Promise((r) => setImmediate(r));
    state.inFlight--;
    if (state.transactions === opts.failOn) throw new Error('cannot close order 7');
    const n = Math.min(limit, state.due);
    state.due -= n;
    return firedOrders(n);
  };
  return { state, fire };
}

const settled = (drain: BacklogDrain) => drain.idle();

test('when triggered on a backlog, then its lanes fire every due order in full batches and stop at the first short one', async () => {
  const { state, fire } = table(2_050);
  const fired: number[] = [];
  const drain = new BacklogDrain({
    fire,
    lanes: 4,
    batchSize: 500,
    cooldownMs: 1_000,
    onFired: (_k, f) => fired.push(f.length),
  });
  drain.trigger(PAYMENT_TIMEOUT);
  await settled(drain);
  expect(state.due).toBe(0);
  expect(fired.reduce((a, b) => a + b, 0)).toBe(2_050);
  // 4 × 500, then one lane's 50 and three empty rounds: each lane stops at its first short batch.
  expect(state.transactions).toBe(8);
  expect(state.maxInFlight).toBeLessThanOrEqual(4);
});

test('when triggered again while a drain runs, then no second one starts: never more than its lanes at once', async () => {
  const { state, fire } = table(10_000);
  const drain = new BacklogDrain({ fire, lanes: 2, batchSize: 100, cooldownMs: 1_000 });
  for (let i = 0; i < 50; i++) drain.trigger(PAYMENT_TIMEOUT);
  await settled(drain);
  expect(state.due).toBe(0);
  expect(state.maxInFlight).toBe(2);
});

test('when one lane fails, then the others stop after their transaction, the drain ends as one, and none starts again during the cool-down', async () => {
  // Only the 7th transaction fails: the other lanes would go on for ever if nothing stopped them.
  const { state, fire } = table(10_000, { failOn: 7 });
  const drain = new BacklogDrain({ fire, lanes: 3, batchSize: 100, cooldownMs: 60_000 });
  drain.trigger(PAYMENT_TIMEOUT);
  await settled(drain);
  const after = state.transactions;
  expect(after).toBeLessThanOrEqual(7 + 2); // the failing 7th and at most one more per other lane
  expect(state.inFlight).toBe(0);
  drain.trigger(PAYMENT_TIMEOUT); // cooling down: nothing starts
  await settled(drain);
  expect(state.transactions).toBe(after);
});

test('when stopped, then it lets the running transactions finish and never starts another', async () => {
  const { state, fire } = table(10_000);
  const drain = new BacklogDrain({ fire, lanes: 2, batchSize: 100, cooldownMs: 1_000 });
  drain.trigger(PAYMENT_TIMEOUT);
  await drain.stop();
  expect(state.inFlight).toBe(0);
  const after = state.transactions;
  expect(state.due).toBeGreaterThan(0);
  drain.trigger(PAYMENT_TIMEOUT);
  await settled(drain);
  expect(state.transactions).toBe(after);
});

test('when it has no lanes (closer.drainLanes 0), then a trigger does nothing', async () => {
  const { state, fire } = table(1_000);
  const drain = new BacklogDrain({ fire, lanes: 0, batchSize: 100, cooldownMs: 1_000 });
  drain.trigger(PAYMENT_TIMEOUT);
  await settled(drain);
  expect(state.transactions).toBe(0);
});
