import type mysql from 'mysql2/promise';
import {
  createScratch,
  log,
  postOrders,
  publishDue,
  seedOrders,
  seedProducts,
  startServiceProcess,
  waitFor,
  PRODUCTS,
  type Scratch,
} from '../support';

/** Create and close rates of orders holding stock only, and of orders holding stock, a promotion unit, a coupon and points. */
export interface HoldsResult {
  seconds: number;
  connections: number;
  backlog: number;
  /** Rounds of each measurement, alternating stock only and all four kinds; the figures are medians. */
  rounds: number;
  create: { plainPerSecond: number; holdsPerSecond: number; plainP99Ms: number; holdsP99Ms: number; non2xx: number };
  close: { plainPerSecond: number; holdsPerSecond: number };
}

const POINTS = 100;
const COUPON_OFF = 50;

/** Inserts rows in chunks (one statement each). */
async function insertChunks(pool: mysql.Pool, sql: string, rows: unknown[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += 5000) await pool.query(sql, [rows.slice(i, i + 5000)]);
}

/** One promotion per product (ids 1..100), active for a day, with room for everything the bench does. */
async function seedPromotions(pool: mysql.Pool, soldPerProduct = new Map<number, number>()): Promise<void> {
  const now = new Date();
  await insertChunks(
    pool,
    'INSERT INTO promotions (id, product_id, price_cents, quota, per_customer_limit, starts_at, ends_at, sold, created_at, updated_at) VALUES ?',
    Array.from({ length: PRODUCTS }, (_, i) => [
      i + 1,
      i + 1,
      900,
      1_000_000_000,
      1_000_000,
      new Date(now.getTime() - 60_000),
      new Date(now.getTime() + 86_400_000),
      soldPerProduct.get(i + 1) ?? 0,
      now,
      now,
    ]),
  );
}

/** Customers `bc-1` … `bc-n`, each with coupon i (AVAILABLE, or HELD by order i) and points (balance, or held by order i). */
async function seedCustomers(pool: mysql.Pool, n: number, heldByOrders: boolean): Promise<void> {
  const now = new Date();
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  await insertChunks(
    pool,
    'INSERT INTO coupons (id, customer_id, discount_cents, min_total_cents, expires_at, status, order_id, created_at, updated_at) VALUES ?',
    ids.map((id) => [
      id,
      `bc-${id}`,
      COUPON_OFF,
      0,
      new Date(now.getTime() + 86_400_000),
      heldByOrders ? 'HELD' : 'AVAILABLE',
      heldByOrders ? id : null,
      now,
      now,
    ]),
  );
  await insertChunks(
    pool,
    'INSERT INTO points_accounts (customer_id, balance, held, created_at, updated_at) VALUES ?',
    ids.map((id) => [`bc-${id}`, heldByOrders ? 0 : POINTS, heldByOrders ? POINTS : 0, now, now]),
  );
  await insertChunks(
    pool,
    'INSERT INTO points_ledger (customer_id, delta, reason, created_at) VALUES ?',
    ids.map((id) => [`bc-${id}`, POINTS, 'bench', now]),
  );
}

/** Makes the seeded orders 1..n hold their customer's coupon, points and a promotion unit, as a create would have. */
export async function holdEverything(pool: mysql.Pool, n: number): Promise<void> {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const productOf = (id: number) => (id % PRODUCTS) + 1;
  const sold = new Map<number, number>();
  for (const id of ids) sold.set(productOf(id), (sold.get(productOf(id)) ?? 0) + 1);
  await seedPromotions(pool, sold);
  await seedCustomers(pool, n, true);
  await pool.query("UPDATE orders SET customer_id = CONCAT('bc-', id), coupon_id = id WHERE id <= ?", [n]);
  await insertChunks(
    pool,
    'INSERT INTO order_holds (order_id, kind, resource_id, customer_id, amount) VALUES ?',
    ids.flatMap((id) => [
      [id, 'promotion', String(productOf(id)), `bc-${id}`, 1],
      [id, 'coupon', String(id), `bc-${id}`, 1],
      [id, 'points', `bc-${id}`, `bc-${id}`, POINTS],
    ]),
  );
}

/**
 * POST /orders for `seconds` with `connections`; `holds`: request i uses customer i's coupon and points (`next`
 * carries i from one round to the next, so no coupon is asked for twice).
 */
export async function createFor(
  scratch: Scratch,
  seconds: number,
  connections: number,
  holds: boolean,
  next: { i: number },
  env: Record<string, string> = {},
) {
  const service = await startServiceProcess(scratch, env);
  const result = await postOrders(service.port, connections, seconds, () => {
    const n = ++next.i;
    const items = [{ productId: String(1 + (n % PRODUCTS)), quantity: 1 }];
    return holds
      ? { customerId: `bc-${n}`, items, couponId: String(n), pointsToRedeem: POINTS }
      : { customerId: 'bench', items };
  });
  await service.stop();
  return { perSecond: result['2xx'] / seconds, p99Ms: result.latency.p99, non2xx: result.non2xx };
}

/** Options for {@link drainWith}. */
export interface DrainOptions {
  /** Orders that hold a coupon, points and a promotion unit too. */
  holds: boolean;
  /** The service's environment on top of the bench's (e.g. ORDER_EVENTS). */
  env?: Record<string, string>;
  /** Before the service starts, on the scratch vhost (e.g. bind a consumer queue). */
  prepare?: (scratch: Scratch) => Promise<void>;
  /** After every order closed, before the service stops: measures what else the service does (e.g. events sent). */
  after?: (scratch: Scratch) => Promise<void>;
}

/** N due orders drained by the service; closes per second, first to last. */
export async function drainWith(n: number, opts: DrainOptions): Promise<{ closesPerSecond: number }> {
  const scratch = await createScratch(8);
  try {
    await seedProducts(scratch.pool, 'general');
    const past = new Date(Date.now() - 1000);
    const ids = await seedOrders(scratch.pool, { firstId: 1, count: n, expiresAt: past });
    if (opts.holds) await holdEverything(scratch.pool, n);
    await publishDue(scratch.amqpUrl, ids, past);
    await opts.prepare?.(scratch);
    const service = await startServiceProcess(scratch, opts.env);
    await waitFor(
      `drain (${opts.holds ? 'all four kinds' : 'stock only'})`,
      async () => {
        const [rows] = await scratch.pool.query("SELECT COUNT(*) AS n FROM orders WHERE status = 'CLOSED'");
        const closed = Number((rows as { n: number }[])[0]!.n);
        return { done: closed === n, progress: `${closed}/${n} closed` };
      },
      600_000,
    );
    await opts.after?.(scratch);
    await service.stop();
    const [span] = await scratch.pool.query(
      'SELECT TIMESTAMPDIFF(MICROSECOND, MIN(closed_at), MAX(closed_at)) AS us FROM orders',
    );
    return { closesPerSecond: n / Math.max(Number((span as { us: number }[])[0]!.us) / 1e6, 0.001) };
  } finally {
    await scratch.destroy();
  }
}

/** N due orders (holding everything, or stock only) drained by the service; closes per second, first to last. */
export async function drain(n: number, holds: boolean): Promise<number> {
  return (await drainWith(n, { holds })).closesPerSecond;
}

/** Median rate, median p99 and the non-2xx total of create rounds. */
export function createFigures(runs: readonly Awaited<ReturnType<typeof createFor>>[]) {
  return {
    perSecond: median(runs.map((c) => c.perSecond)),
    p99Ms: median(runs.map((c) => c.p99Ms)),
    non2xx: runs.reduce((sum, c) => sum + c.non2xx, 0),
  };
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Holds: the create and close paths with a coupon, a promotion unit and points on every order, next to the same
 * paths with stock only, measured in alternating rounds in the same run (the machine's noise moves both alike);
 * medians of the rounds.
 */
export async function holdsRates(
  seconds: number,
  backlog: number,
  rounds: number,
  connections = 32,
): Promise<HoldsResult> {
  const plainScratch = await createScratch(connections);
  const holdsScratch = await createScratch(connections);
  const creates: Record<'plain' | 'holds', Awaited<ReturnType<typeof createFor>>[]> = { plain: [], holds: [] };
  try {
    await seedProducts(plainScratch.pool, 'general');
    await seedProducts(holdsScratch.pool, 'general');
    await seedPromotions(holdsScratch.pool);
    // Enough customers for every round at the fastest create rate seen, with room to spare.
    await seedCustomers(holdsScratch.pool, Math.ceil(seconds * 3000 * rounds), false);
    const plainNext = { i: 0 };
    const holdsNext = { i: 0 };
    for (let round = 1; round <= rounds; round++) {
      log(`holds: round ${round}/${rounds}: create with stock only, ${connections} connections, ${seconds} s`);
      creates.plain.push(await createFor(plainScratch, seconds, connections, false, plainNext));
      log(`holds: round ${round}/${rounds}: create with a promotion unit, a coupon and points on every order`);
      creates.holds.push(await createFor(holdsScratch, seconds, connections, true, holdsNext));
    }
  } finally {
    await plainScratch.destroy();
    await holdsScratch.destroy();
  }
  const closes: Record<'plain' | 'holds', number[]> = { plain: [], holds: [] };
  for (let round = 1; round <= rounds; round++) {
    log(`holds: round ${round}/${rounds}: drain ${backlog} due orders, stock only, then holding all four kinds`);
    closes.plain.push(await drain(backlog, false));
    closes.holds.push(await drain(backlog, true));
  }
  const [plain, holds] = [createFigures(creates.plain), createFigures(creates.holds)];
  return {
    seconds,
    connections,
    backlog,
    rounds,
    create: {
      plainPerSecond: plain.perSecond,
      holdsPerSecond: holds.perSecond,
      plainP99Ms: plain.p99Ms,
      holdsP99Ms: holds.p99Ms,
      non2xx: plain.non2xx + holds.non2xx,
    },
    close: { plainPerSecond: median(closes.plain), holdsPerSecond: median(closes.holds) },
  };
}
