import { transitionFor } from '../../src/domain/order-lifecycle';
import { reminderDelayMs, type PaymentTimeouts } from '../../src/domain/payment-window';
import type { Policy } from '../../src/domain/policy';
import { TIMER_KINDS, timerTransition } from '../../src/domain/timer-kinds';
import { dueColumns, timerDues } from '../../src/orders/start-timers';

const windows: PaymentTimeouts = { default: 900_000, fresh: 300_000, flash: 10_000 };
const policy = (paymentReminders: Record<string, number>): Policy => ({
  paymentWindows: windows,
  paymentReminders,
  autoCompleteAfterMs: 7 * 86_400_000,
});
const NOW = new Date('2026-11-24T10:00:00.000Z');
/** The due columns creation sets for an order of these categories. */
const createdColumns = (reminders: Record<string, number>, categories: string[]) =>
  dueColumns(timerDues(policy(reminders), 'create', { categories }, NOW));

describe('reminderDelayMs', () => {
  it("when the order's category has a reminder, then it comes that long before the deadline", () => {
    expect(reminderDelayMs(['fresh'], windows, { fresh: 60_000 })).toBe(240_000);
  });

  it('when the category is not listed but `default` is, then the default reminder applies', () => {
    expect(reminderDelayMs(['books'], windows, { default: 300_000 })).toBe(600_000);
    expect(reminderDelayMs(['fresh'], windows, { default: 60_000, flash: 2_000 })).toBe(240_000);
  });

  it('when neither the category nor `default` has a reminder, then there is none', () => {
    expect(reminderDelayMs(['books'], windows, {})).toBeUndefined();
    expect(reminderDelayMs(['books'], windows, { fresh: 60_000 })).toBeUndefined();
  });

  it('when the reminder is not shorter than the window (a default longer than a short category), then there is none', () => {
    expect(reminderDelayMs(['flash'], windows, { default: 300_000 })).toBeUndefined();
    expect(reminderDelayMs(['flash'], windows, { flash: 10_000 })).toBeUndefined();
    expect(reminderDelayMs(['flash'], windows, { flash: 0 })).toBeUndefined();
  });

  it('when the order mixes categories, then the reminder is that of the category whose window it got', () => {
    expect(reminderDelayMs(['books', 'fresh'], windows, { books: 600_000, fresh: 120_000 })).toBe(180_000);
  });

  it('when a category is named like an Object prototype member, then it has no reminder of its own', () => {
    expect(reminderDelayMs(['constructor'], windows, {})).toBeUndefined();
    expect(reminderDelayMs(['constructor'], windows, { default: 1_000 })).toBe(899_000);
  });
});

describe('timers started at creation', () => {
  it('when the category has a reminder, then remind_at is the deadline less the reminder', () => {
    const columns = createdColumns({ fresh: 60_000 }, ['fresh']);
    expect(columns).toEqual({
      expires_at: new Date(NOW.getTime() + 300_000),
      remind_at: new Date(NOW.getTime() + 240_000),
    });
    expect(columns.expires_at!.getTime() - columns.remind_at!.getTime()).toBe(60_000);
  });

  it('when the category has no reminder, then only the payment timeout starts', () => {
    expect(
      timerDues(policy({ fresh: 60_000 }), 'create', { categories: ['books'] }, NOW).map((d) => d.kind.name),
    ).toEqual(['payment-timeout']);
    expect(createdColumns({ default: 300_000 }, ['flash'])).toEqual({ expires_at: new Date(NOW.getTime() + 10_000) });
  });

  it('when an order ships, then no reminder starts (only auto-complete)', () => {
    const dues = timerDues(policy({ default: 60_000 }), 'ship', { categories: [] }, NOW);
    expect(dues.map((d) => d.kind.name)).toEqual(['auto-complete']);
  });

  it('when a timer kind leaves the state as it was, then its transition clears its due column (it cannot fire twice)', () => {
    const keeping = TIMER_KINDS.filter((k) => timerTransition(k).from === timerTransition(k).to);
    expect(keeping.map((k) => k.name)).toEqual(['payment-reminder']);
    for (const k of keeping) expect(timerTransition(k).clears).toBe(k.dueColumn);
    expect(transitionFor('remind').deadline).toBe('before');
  });
});
