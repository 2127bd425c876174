import { AdmissionGate } from '../../src/http/admission';

describe('admission gate', () => {
  test('when fewer than maxInFlight requests are in progress, then each is admitted at once', async () => {
    const gate = new AdmissionGate({ maxInFlight: 2, maxQueueWaitMs: 1_000 });
    const a = await gate.enter();
    const b = await gate.enter();
    expect([typeof a, typeof b]).toEqual(['function', 'function']);
    expect(gate.busy).toBe(2);
  });

  test('when the line is full, then the next request is turned away at once as queue-full', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueueWaitMs: 60_000, maxQueued: 1 });
    const held = (await gate.enter()) as () => void;
    const waiter = gate.enter();
    await expect(gate.enter()).resolves.toBe('queue-full');
    expect(gate.queued).toBe(1);
    held();
    ((await waiter) as () => void)();
  });

  test('when a slot frees, then it goes to the first waiter and the count of work in flight stays the same', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueueWaitMs: 60_000, maxQueued: 2 });
    const first = (await gate.enter()) as () => void;
    const order: string[] = [];
    const second = gate.enter().then((r) => (order.push('second'), r));
    const third = gate.enter().then((r) => (order.push('third'), r));
    first();
    const releaseSecond = (await second) as () => void;
    expect(gate.busy).toBe(1);
    releaseSecond();
    releaseSecond(); // twice (finish and close both fire): released once
    const releaseThird = (await third) as () => void;
    releaseThird();
    expect(order).toEqual(['second', 'third']);
    expect(gate.busy).toBe(0);
  });

  test('when a waiting client leaves, then it leaves the line and the slot goes to the next waiter', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueueWaitMs: 60_000, maxQueued: 2 });
    const held = (await gate.enter()) as () => void;
    const leaving = new AbortController();
    const first = gate.enter(leaving.signal);
    const second = gate.enter();
    leaving.abort();
    await expect(first).resolves.toBe('gone');
    expect(gate.queued).toBe(1);
    held();
    const release = (await second) as () => void;
    release();
    expect([gate.busy, gate.queued]).toEqual([0, 0]);
  });

  test('when a waiter waits longer than maxQueueWaitMs, then it is turned away as queue-timeout and leaves the line', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueueWaitMs: 20 });
    const held = (await gate.enter()) as () => void;
    await expect(gate.enter()).resolves.toBe('queue-timeout');
    expect(gate.queued).toBe(0);
    held();
    expect(gate.busy).toBe(0);
  });
});
