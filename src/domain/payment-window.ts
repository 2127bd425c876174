/** Payment window per product category in ms; `default` applies to categories not listed. */
export type PaymentTimeouts = Readonly<Record<string, number>> & { readonly default: number };

/** The payment window of an order: the shortest window among its products' categories. */
export function paymentWindow(categories: readonly string[], timeouts: PaymentTimeouts): number {
  if (categories.length === 0) return timeouts.default;
  // Own keys only: a category named `constructor` or `toString` is just an unlisted category.
  return Math.min(...categories.map((c) => (Object.hasOwn(timeouts, c) ? timeouts[c]! : timeouts.default)));
}
