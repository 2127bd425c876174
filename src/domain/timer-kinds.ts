import type { EventSource, OrderEvent } from './order-lifecycle';
import { transitionFor, type Transition } from './order-lifecycle';
import { reminderDelayMs, windowCategory } from './payment-window';
import type { Policy } from './policy';

/** The timer kinds the closer and the sweeper serve; a message without a kind is a payment timeout. */
export const TIMER_KIND_NAMES = ['payment-timeout', 'auto-complete', 'payment-reminder'] as const;
export type TimerKindName = (typeof TIMER_KIND_NAMES)[number];

/** What an order is like when a timer starts: the categories of its products (for per-category durations). */
export interface TimerSubject {
  categories: readonly string[];
}

/**
 * One timer on the order lifecycle. The scheduling code, the closer and the sweeper read this table and name no
 * kind themselves: a timer is due once `dueColumn <= now`, and then its transition is applied as a compare-and-set
 * on the transition's `from` state (and on the deadline, where the transition asks), so an early, duplicate or
 * overtaken timer changes nothing. A transition that leaves the state as it was clears the due column instead.
 */
export interface TimerKind {
  name: TimerKindName;
  /** The event it applies (the lifecycle row, whose `from` is the state it applies to). */
  event: OrderEvent;
  /** The lifecycle event whose transition starts it (`create`: the order's creation). */
  startedBy: OrderEvent | 'create';
  /** The orders column holding when it is due, set when it starts; the sweeper scans `(status, dueColumn)`. */
  dueColumn: 'expires_at' | 'complete_at' | 'remind_at';
  /** Recorded in `order_events` when the closer applies it (the sweeper records `sweeper`). */
  source: EventSource;
  /** How long after its start it is due, from the policy in force at the start (ms); undefined: it does not start. */
  durationMs(policy: Policy, subject: TimerSubject): number | undefined;
  /** What the log says when a batch of these fired. */
  firedLog: string;
  /** The sweeper's warning when it fired some (their messages were late or lost). */
  sweptLog: string;
}

/** Every timer kind. */
export const TIMER_KINDS: readonly TimerKind[] = [
  {
    name: 'payment-timeout',
    event: 'timeout',
    startedBy: 'create',
    dueColumn: 'expires_at',
    source: 'timeout',
    durationMs: (policy, subject) => windowCategory(subject.categories, policy.paymentWindows).windowMs,
    firedLog: 'orders closed',
    sweptLog: 'sweeper closed overdue orders: their timeout messages were late or lost',
  },
  {
    name: 'auto-complete',
    event: 'complete',
    startedBy: 'ship',
    dueColumn: 'complete_at',
    source: 'timeout',
    durationMs: (policy) => policy.autoCompleteAfterMs,
    firedLog: 'orders completed',
    sweptLog: 'sweeper completed shipped orders: their auto-complete messages were late or lost',
  },
  {
    // Contract §9: `order.expiring` at the deadline less the reminder of the order's category. Its transition keeps
    // the order pending, is legal only before the deadline and clears remind_at: never late, never twice.
    name: 'payment-reminder',
    event: 'remind',
    startedBy: 'create',
    dueColumn: 'remind_at',
    source: 'timeout',
    durationMs: (policy, subject) =>
      reminderDelayMs(subject.categories, policy.paymentWindows, policy.paymentReminders),
    firedLog: 'payment reminders sent',
    sweptLog: 'sweeper sent payment reminders: their reminder messages were late or lost',
  },
];

/** The kind of this name (every name of TIMER_KIND_NAMES has one). */
export function timerKind(name: TimerKindName): TimerKind {
  const found = TIMER_KINDS.find((k) => k.name === name);
  if (!found) throw new Error(`no timer kind ${name}`);
  return found;
}

/** The transition a timer kind applies. */
export const timerTransition = (kind: TimerKind): Transition => transitionFor(kind.event);

/** The kinds a lifecycle event starts. */
export const timersStartedBy = (event: OrderEvent | 'create'): TimerKind[] =>
  TIMER_KINDS.filter((k) => k.startedBy === event);

/** The payment timeout, which every order gets at creation. */
export const PAYMENT_TIMEOUT = timerKind('payment-timeout');
