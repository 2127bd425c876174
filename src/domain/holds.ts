/**
 * What an order can hold while PENDING_PAYMENT (contract §7), in the order every transaction takes their rows:
 * a transaction touching several kinds locks them kind by kind in this order (each in ascending key order), after
 * the orders, so closes, cancels, payments and creates cannot deadlock each other.
 */
export const HOLD_KINDS = ['stock', 'promotion', 'coupon', 'points'] as const;
export type HoldKind = (typeof HOLD_KINDS)[number];

/** One thing an order is to take or already holds: `amount` of one resource of one kind. */
export interface HoldClaim {
  kind: HoldKind;
  /** A product, promotion or coupon id; the customer id for points. */
  resourceId: string;
  /** Units of stock or of the promotion, 1 for a coupon, points. */
  amount: number;
}

/** A claim some order holds (or kept, or gave back), with whose it is. */
export interface Hold extends HoldClaim {
  orderId: string;
  customerId: string;
}

/**
 * What a transition does with everything the order holds (the `holds` column of the transition table):
 * `release` gives it back, `keep` makes it the buyer's for good, `retake` takes back what a closed order gave
 * back and keeps it (all of it or, when anything is gone, nothing), `unchanged` leaves it as it is.
 */
export type HoldAction = 'keep' | 'release' | 'retake' | 'unchanged';

/** Amount per kind, e.g. what a close gave back, for metrics. */
export type AmountsByKind = Partial<Record<HoldKind, number>>;

/** Total amount per resource, keys in {@link compareKeys} order: one row per resource in a batched statement. */
export function sumByResource(holds: readonly Pick<HoldClaim, 'resourceId' | 'amount'>[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const h of holds) sums.set(h.resourceId, (sums.get(h.resourceId) ?? 0) + h.amount);
  return new Map([...sums].sort(([a], [b]) => compareKeys(a, b)));
}

/** Holds grouped by kind, each group in the order given. */
export function groupByKind<T extends { kind: HoldKind }>(holds: readonly T[]): Map<HoldKind, T[]> {
  const groups = new Map<HoldKind, T[]>();
  for (const h of holds) {
    const group = groups.get(h.kind);
    if (group) group.push(h);
    else groups.set(h.kind, [h]);
  }
  return groups;
}

/** The amount of each kind in `holds`. */
export function amountsByKind(holds: readonly HoldClaim[]): AmountsByKind {
  const out: AmountsByKind = {};
  for (const h of holds) out[h.kind] = (out[h.kind] ?? 0) + h.amount;
  return out;
}

/**
 * A fixed order of keys, numeric ids (no leading zeros) by value, so that statements and logs list them the
 * same way every time. Locking does not depend on it: InnoDB takes one statement's rows in index order.
 */
export function compareKeys(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
