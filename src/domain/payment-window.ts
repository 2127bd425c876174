/** Payment window per product category in ms; `default` applies to categories not listed. */
export type PaymentTimeouts = Readonly<Record<string, number>> & { readonly default: number };

/** The window an order gets and the product category it came from. */
export interface OrderWindow {
  windowMs: number;
  /** The category of the product whose window applies; `default` for an order with no items. */
  category: string;
}

/** Time before the deadline at which a pending order is reminded, per category, in ms (`PAYMENT_REMINDERS`). */
export type PaymentReminders = Readonly<Record<string, number>>;

// Own keys only: a category named `constructor` or `toString` is just an unlisted category.
const windowOf = (category: string, timeouts: PaymentTimeouts) =>
  Object.hasOwn(timeouts, category) ? timeouts[category]! : timeouts.default;

/**
 * The payment window of an order (the shortest window among its products' categories) and the category that
 * gave it. On a tie the first such category in item order wins, so an order of `books` and `toys` (both the
 * default window) is a `books` order.
 */
export function windowCategory(categories: readonly string[], timeouts: PaymentTimeouts): OrderWindow {
  let best: OrderWindow = { windowMs: timeouts.default, category: 'default' };
  categories.forEach((category, i) => {
    const windowMs = windowOf(category, timeouts);
    if (i === 0 || windowMs < best.windowMs) best = { windowMs, category };
  });
  return best;
}

/**
 * How long after its creation an order is reminded: its window less the reminder of the category that gave the
 * window (that category's own, else `default`). Undefined when it gets none: no reminder for that category and no
 * `default`, or one not shorter than the window (a `default` reminder of 5m and a category whose window is 1m).
 */
export function reminderDelayMs(
  categories: readonly string[],
  timeouts: PaymentTimeouts,
  reminders: PaymentReminders,
): number | undefined {
  const { windowMs, category } = windowCategory(categories, timeouts);
  const reminderMs = Object.hasOwn(reminders, category) ? reminders[category] : reminders.default;
  if (reminderMs === undefined || reminderMs <= 0 || reminderMs >= windowMs) return undefined;
  return windowMs - reminderMs;
}
