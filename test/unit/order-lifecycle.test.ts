import {
  ORDER_EVENTS,
  ORDER_STATUSES,
  TRANSITIONS,
  transitionFor,
  type OrderEvent,
  type OrderStatus,
} from '../../src/domain/order-lifecycle';

/** The state machine's table (docs/architecture.md), written out independently of the code's copy. */
const CONTRACT: Record<string, { to: OrderStatus; stock: 'keep' | 'release' }> = {
  'PENDING_PAYMENT pay': { to: 'PAID', stock: 'keep' },
  'PENDING_PAYMENT cancel': { to: 'CANCELLED', stock: 'release' },
  'PENDING_PAYMENT timeout': { to: 'CLOSED', stock: 'release' },
  'PAID ship': { to: 'SHIPPED', stock: 'keep' },
  'SHIPPED complete': { to: 'COMPLETED', stock: 'keep' },
};

const pairs = ORDER_STATUSES.flatMap((s) => ORDER_EVENTS.map((e) => [s, e] as [OrderStatus, OrderEvent]));

describe('order lifecycle table', () => {
  it('when listing states and events, then they are the six states and five events of the contract', () => {
    expect([...ORDER_STATUSES].sort()).toEqual([
      'CANCELLED',
      'CLOSED',
      'COMPLETED',
      'PAID',
      'PENDING_PAYMENT',
      'SHIPPED',
    ]);
    expect([...ORDER_EVENTS].sort()).toEqual(['cancel', 'complete', 'pay', 'ship', 'timeout']);
  });

  // The service applies an event with transitionFor(event) and a compare-and-set on its `from` state, so an
  // event is legal in a state exactly when that is its transition's `from`.
  it.each(pairs)(
    'when the order is %s and the event is %s, then the transition matches the contract table',
    (from, event) => {
      const expected = CONTRACT[`${from} ${event}`];
      const t = transitionFor(event);
      expect(t.from === from).toBe(expected !== undefined);
      if (expected) expect(t).toMatchObject({ from, event, to: expected.to, stock: expected.stock });
    },
  );

  it('when counting the table rows, then there are exactly the five legal transitions', () => {
    expect(TRANSITIONS).toHaveLength(5);
  });

  it('when an order leaves PENDING_PAYMENT by pay, then the deadline must not have passed; by timeout, it must have', () => {
    expect(transitionFor('pay')).toMatchObject({ from: 'PENDING_PAYMENT', deadline: 'before' });
    expect(transitionFor('cancel')).toMatchObject({ from: 'PENDING_PAYMENT', deadline: 'before' });
    expect(transitionFor('timeout')).toMatchObject({ from: 'PENDING_PAYMENT', deadline: 'after' });
  });

  it.each(['CANCELLED', 'CLOSED', 'COMPLETED'] as OrderStatus[])(
    'when the order is %s, then no event moves it (terminal state)',
    (s) => {
      for (const e of ORDER_EVENTS) expect(transitionFor(e).from).not.toBe(s);
    },
  );

  it.each(ORDER_EVENTS.map((e) => [e]))(
    'when asking which transition %s uses, then it is the single row for that event',
    (event) => {
      const t = transitionFor(event);
      expect(t.event).toBe(event);
      expect(TRANSITIONS.filter((r) => r.event === event)).toEqual([t]);
    },
  );

  it('when stock is released, then the transition is one out of PENDING_PAYMENT (stock goes back at most once)', () => {
    const releasing = TRANSITIONS.filter((t) => t.stock === 'release');
    expect(releasing.map((t) => `${t.from} ${t.event}`).sort()).toEqual([
      'PENDING_PAYMENT cancel',
      'PENDING_PAYMENT timeout',
    ]);
    // Nothing ever returns to PENDING_PAYMENT, so a release cannot happen twice.
    expect(TRANSITIONS.some((t) => t.to === 'PENDING_PAYMENT')).toBe(false);
  });
});
