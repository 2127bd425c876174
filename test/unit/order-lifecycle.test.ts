import {
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
};

const pairs = ORDER_STATUSES.flatMap((s) => ORDER_EVENTS.map((e) => [s, e] as [OrderStatus, OrderEvent]));

describe('order lifecycle table', () => {
  it('when listing states and events, then they are the six states and six events of the contract', () => {
    expect([...ORDER_STATUSES].sort()).toEqual([
      'CANCELLED',
      'CLOSED',
      'COMPLETED',
      'PAID',
      'PENDING_PAYMENT',
      'SHIPPED',
    ]);
    expect([...ORDER_EVENTS].sort()).toEqual(['cancel', 'complete', 'pay', 'revive', 'ship', 'timeout']);
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

  it('when counting the table rows, then there are exactly the six legal transitions', () => {
    expect(TRANSITIONS).toHaveLength(6);
  });

  it('when an order leaves PENDING_PAYMENT by pay, then the deadline must not have passed; by timeout, it must have', () => {
    expect(transitionFor('pay')).toMatchObject({ from: 'PENDING_PAYMENT', deadline: 'before' });
    expect(transitionFor('cancel')).toMatchObject({ from: 'PENDING_PAYMENT', deadline: 'before' });
    expect(transitionFor('timeout')).toMatchObject({ from: 'PENDING_PAYMENT', deadline: 'after' });
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
    // Nothing ever returns to PENDING_PAYMENT, so a release cannot happen twice; the one way out of CLOSED takes
    // everything back and keeps it (PAID), so it cannot be released again either.
    expect(TRANSITIONS.some((t) => t.to === 'PENDING_PAYMENT')).toBe(false);
    expect(TRANSITIONS.filter((t) => t.from === 'CLOSED').map((t) => [t.holds, t.to])).toEqual([['retake', 'PAID']]);
  });
});
