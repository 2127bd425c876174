import {
  deadlineAllows,
  ORDER_EVENTS,
  ORDER_STATUSES,
  TRANSITIONS,
  transitionFor,
  type OrderEvent,
  type OrderStatus,
} from '../../src/domain/order-lifecycle';

/** The state machine's table (docs/architecture.md), written out independently of the code's copy. */
const CONTRACT: Record<string, { to: OrderStatus; holds: 'keep' | 'release' | 'retake' | 'unchanged' }> = {
  'PENDING_PAYMENT pay': { to: 'PAID', holds: 'keep' },
  'PENDING_PAYMENT cancel': { to: 'CANCELLED', holds: 'release' },
  'PENDING_PAYMENT timeout': { to: 'CLOSED', holds: 'release' },
  'PAID ship': { to: 'SHIPPED', holds: 'unchanged' },
  'SHIPPED complete': { to: 'COMPLETED', holds: 'unchanged' },
  'CLOSED revive': { to: 'PAID', holds: 'retake' },
  'PENDING_PAYMENT remind': { to: 'PENDING_PAYMENT', holds: 'unchanged' },
};

const pairs = ORDER_STATUSES.flatMap((s) => ORDER_EVENTS.map((e) => [s, e] as [OrderStatus, OrderEvent]));

describe('order lifecycle table', () => {
  it('when listing states and events, then they are the six states and seven events of the contract', () => {
    expect([...ORDER_STATUSES].sort()).toEqual([
      'CANCELLED',
      'CLOSED',
      'COMPLETED',
      'PAID',
      'PENDING_PAYMENT',
      'SHIPPED',
    ]);
    expect([...ORDER_EVENTS].sort()).toEqual(['cancel', 'complete', 'pay', 'remind', 'revive', 'ship', 'timeout']);
  });

  // The service applies an event with transitionFor(event) and a compare-and-set on its `from` state, so an
  // event is legal in a state exactly when that is its transition's `from`.
  it.each(pairs)(
    'when the order is %s and the event is %s, then the transition matches the contract table',
    (from, event) => {
      const expected = CONTRACT[`${from} ${event}`];
      const t = transitionFor(event);
      expect(t.from === from).toBe(expected !== undefined);
      if (expected) expect(t).toMatchObject({ from, event, to: expected.to, holds: expected.holds });
    },
  );

  it('when counting the table rows, then there are exactly the seven legal transitions', () => {
    expect(TRANSITIONS).toHaveLength(7);
  });

  it('when an order leaves PENDING_PAYMENT by pay, then the deadline must not have passed; by timeout, it must have', () => {
    expect(transitionFor('pay')).toMatchObject({ from: 'PENDING_PAYMENT', deadline: 'before' });
    expect(transitionFor('cancel')).toMatchObject({ from: 'PENDING_PAYMENT', deadline: 'before' });
    expect(transitionFor('timeout')).toMatchObject({ from: 'PENDING_PAYMENT', deadline: 'after' });
  });

  it('when a pending order is reminded, then only before the deadline, it stays pending and its reminder is cleared', () => {
    expect(transitionFor('remind')).toMatchObject({ to: 'PENDING_PAYMENT', deadline: 'before', clears: 'remind_at' });
  });

  it('when the deadline is checked for one order, then before, after and any mean what the SQL condition says', () => {
    const deadline = new Date('2026-01-01T00:00:10.000Z');
    const at = (ms: number) => new Date(deadline.getTime() + ms);
    expect([-1, 0, 1].map((ms) => deadlineAllows(transitionFor('remind'), deadline, at(ms)))).toEqual([
      true,
      false,
      false,
    ]);
    expect([-1, 0, 1].map((ms) => deadlineAllows(transitionFor('timeout'), deadline, at(ms)))).toEqual([
      false,
      true,
      true,
    ]);
    expect(deadlineAllows(transitionFor('ship'), deadline, at(1))).toBe(true);
  });

  it.each(['CANCELLED', 'COMPLETED'] as OrderStatus[])(
    'when the order is %s, then no event moves it (terminal state)',
    (s) => {
      for (const e of ORDER_EVENTS) expect(transitionFor(e).from).not.toBe(s);
    },
  );

  it('when the order is CLOSED, then only a late payment (revive) moves it, to PAID, taking back what it held', () => {
    expect(ORDER_EVENTS.filter((e) => transitionFor(e).from === 'CLOSED')).toEqual(['revive']);
    expect(transitionFor('revive')).toMatchObject({ to: 'PAID', holds: 'retake', stamps: 'paid_at' });
  });

  it.each(ORDER_EVENTS.map((e) => [e]))(
    'when asking which transition %s uses, then it is the single row for that event',
    (event) => {
      const t = transitionFor(event);
      expect(t.event).toBe(event);
      expect(TRANSITIONS.filter((r) => r.event === event)).toEqual([t]);
    },
  );

  it('when holds are released, then the transition is one out of PENDING_PAYMENT (they go back at most once)', () => {
    const releasing = TRANSITIONS.filter((t) => t.holds === 'release');
    expect(releasing.map((t) => `${t.from} ${t.event}`).sort()).toEqual([
      'PENDING_PAYMENT cancel',
      'PENDING_PAYMENT timeout',
    ]);
    // Nothing enters PENDING_PAYMENT from another state (the reminder stays in it and leaves the holds alone), so a
    // release cannot happen twice; the one way out of CLOSED takes everything back and keeps it (PAID), so it cannot
    // be released again either.
    const intoPending = TRANSITIONS.filter((t) => t.to === 'PENDING_PAYMENT');
    expect(intoPending.map((t) => [t.from, t.holds])).toEqual([['PENDING_PAYMENT', 'unchanged']]);
    expect(TRANSITIONS.filter((t) => t.from === 'CLOSED').map((t) => [t.holds, t.to])).toEqual([['retake', 'PAID']]);
  });
});
