import type { HoldAction } from './holds';

export const ORDER_STATUSES = ['PENDING_PAYMENT', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED', 'CLOSED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ORDER_EVENTS = ['pay', 'cancel', 'timeout', 'ship', 'complete', 'revive', 'remind'] as const;
export type OrderEvent = (typeof ORDER_EVENTS)[number];

/** Who caused a transition; stored in `order_events.source`. */
export const EVENT_SOURCES = ['http', 'timeout', 'sweeper', 'read', 'cli'] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];

export interface Transition {
  from: OrderStatus;
  event: OrderEvent;
  to: OrderStatus;
  /**
   * What happens to everything the order holds (stock, coupon, promotion quota, points; see domain/holds):
   * exactly once, since the compare-and-set on `from` lets only one transaction apply the row.
   */
  holds: HoldAction;
  /** Where the payment deadline must stand for the transition to be legal. */
  deadline: 'before' | 'after' | 'any';
  /** The orders column stamped with the transition time, if any. */
  stamps?: 'paid_at' | 'closed_at' | 'shipped_at' | 'completed_at';
  /**
   * The orders column the transition sets to NULL: the due column of a timer whose transition leaves the state as
   * it was (the reminder), so that a duplicate or a racing copy finds nothing due.
   */
  clears?: 'remind_at';
}

/** The whole order lifecycle. Every (state, event) pair not listed is illegal. */
export const TRANSITIONS: readonly Transition[] = [
  { from: 'PENDING_PAYMENT', event: 'pay', to: 'PAID', holds: 'keep', deadline: 'before', stamps: 'paid_at' },
  {
    from: 'PENDING_PAYMENT',
    event: 'cancel',
    to: 'CANCELLED',
    holds: 'release',
    deadline: 'before',
    stamps: 'closed_at',
  },
  { from: 'PENDING_PAYMENT', event: 'timeout', to: 'CLOSED', holds: 'release', deadline: 'after', stamps: 'closed_at' },
  { from: 'PAID', event: 'ship', to: 'SHIPPED', holds: 'unchanged', deadline: 'any', stamps: 'shipped_at' },
  { from: 'SHIPPED', event: 'complete', to: 'COMPLETED', holds: 'unchanged', deadline: 'any', stamps: 'completed_at' },
  // A payment that arrived after the close (contract §8, policy `revive`): legal only if everything the order
  // held can be taken back.
  { from: 'CLOSED', event: 'revive', to: 'PAID', holds: 'retake', deadline: 'any', stamps: 'paid_at' },
  // The payment reminder (contract §9): the order stays pending and keeps what it holds; only before the deadline,
  // and once (it clears its due column).
  {
    from: 'PENDING_PAYMENT',
    event: 'remind',
    to: 'PENDING_PAYMENT',
    holds: 'unchanged',
    deadline: 'before',
    clears: 'remind_at',
  },
];

/** The transition an event always uses, whatever the current state (each event has exactly one `from`). */
export function transitionFor(event: OrderEvent): Transition {
  const found = TRANSITIONS.find((t) => t.event === event);
  if (!found) throw new Error(`no transition for event ${event}`);
  return found;
}

/** Whether the payment deadline `expiresAt` stands where `t` needs it at `at` (the SQL condition, for one order). */
export function deadlineAllows(t: Transition, expiresAt: Date, at: Date): boolean {
  if (t.deadline === 'before') return expiresAt.getTime() > at.getTime();
  if (t.deadline === 'after') return expiresAt.getTime() <= at.getTime();
  return true;
}

/** States whose items count as sold (and whose holds are kept), for stock conservation and the audit. */
export const SOLD_STATUSES: readonly OrderStatus[] = ['PAID', 'SHIPPED', 'COMPLETED'];
