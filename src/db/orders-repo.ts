import type { Knex } from 'knex';
import type { EventSource, OrderEvent, OrderStatus, Transition } from '../domain/order-lifecycle';
import { transitionFor } from '../domain/order-lifecycle';
import { returnStock, returnStockStatement } from './products-repo';
import { runTogether, runTogetherRaw, type StatementResult } from './run-together';

export interface OrderItem {
  productId: string;
  quantity: number;
  unitPriceCents: number;
}

export interface Order {
  id: string;
  customerId: string;
  status: OrderStatus;
  /** The product category whose payment window the order got. */
  category: string;
  items: OrderItem[];
  totalCents: number;
  paymentRef: string | null;
  expiresAt: Date;
  createdAt: Date;
  paidAt: Date | null;
  closedAt: Date | null;
  shippedAt: Date | null;
  completedAt: Date | null;
}

export interface OrderEventRecord {
  event: OrderEvent | 'create';
  from: OrderStatus | null;
  to: OrderStatus;
  source: EventSource;
  at: Date;
}

export interface NewOrder {
  customerId: string;
  /** The product category whose payment window the order got. */
  category: string;
  items: OrderItem[];
  totalCents: number;
  expiresAt: Date;
}

interface OrderRow {
  id: number | string;
  customer_id: string;
  status: OrderStatus;
  category: string;
  total_cents: number | string;
  payment_ref: string | null;
  expires_at: Date;
  created_at: Date;
  paid_at: Date | null;
  closed_at: Date | null;
  shipped_at: Date | null;
  completed_at: Date | null;
}

const toOrder = (r: OrderRow, items: OrderItem[]): Order => ({
  id: String(r.id),
  customerId: r.customer_id,
  status: r.status,
  category: r.category,
  items,
  totalCents: Number(r.total_cents),
  paymentRef: r.payment_ref,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
  paidAt: r.paid_at,
  closedAt: r.closed_at,
  shippedAt: r.shipped_at,
  completedAt: r.completed_at,
});

/**
 * Inserts an order with its items, its `create` event and whatever `alsoWrite` adds for it (the timeout's
 * outbox row), all in one round trip: later statements refer to the new id as `orderIdSql`
 * (a session variable set from LAST_INSERT_ID()). Returns the order and the results of `alsoWrite`.
 */
export async function insertOrder(
  trx: Knex.Transaction,
  order: NewOrder,
  now: Date,
  alsoWrite: (orderIdSql: Knex.Raw) => Knex.QueryBuilder[] = () => [],
): Promise<{ order: Order; written: StatementResult[] }> {
  const orderIdSql = trx.raw('@order_id');
  const results = await runTogether(trx, [
    trx('orders').insert({
      customer_id: order.customerId,
      status: 'PENDING_PAYMENT',
      category: order.category,
      total_cents: order.totalCents,
      expires_at: order.expiresAt,
      created_at: now,
      updated_at: now,
    }),
    trx.raw('SET @order_id = LAST_INSERT_ID()'),
    trx('order_items').insert(
      order.items.map((i) => ({
        order_id: orderIdSql,
        product_id: i.productId,
        quantity: i.quantity,
        unit_price_cents: i.unitPriceCents,
      })),
    ),
    trx('order_events').insert({
      order_id: orderIdSql,
      event: 'create',
      from_status: null,
      to_status: 'PENDING_PAYMENT',
      source: 'http',
      at: now,
    }),
    ...alsoWrite(orderIdSql),
  ]);
  return {
    order: {
      id: String(results[0]!.insertId),
      customerId: order.customerId,
      status: 'PENDING_PAYMENT',
      category: order.category,
      items: order.items,
      totalCents: order.totalCents,
      paymentRef: null,
      expiresAt: order.expiresAt,
      createdAt: now,
      paidAt: null,
      closedAt: null,
      shippedAt: null,
      completedAt: null,
    },
    written: results.slice(4),
  };
}

export async function findOrder(db: Knex, id: string): Promise<Order | undefined> {
  const row = (await db('orders').where({ id }).first()) as OrderRow | undefined;
  if (!row) return undefined;
  const items = await db('order_items').where({ order_id: id }).orderBy('product_id');
  return toOrder(
    row,
    items.map((i: { product_id: number | string; quantity: number; unit_price_cents: number | string }) => ({
      productId: String(i.product_id),
      quantity: i.quantity,
      unitPriceCents: Number(i.unit_price_cents),
    })),
  );
}

/** Status and deadline of an order, as the closer needs them to decide what an unclosed timeout means. */
export interface OrderState {
  status: OrderStatus;
  expiresAt: Date;
}

/** Status and deadline of each order that exists among `ids` (missing ids are absent from the map). */
export async function findOrderStates(db: Knex, ids: readonly string[]): Promise<Map<string, OrderState>> {
  const rows = (await db('orders')
    .select('id', 'status', 'expires_at')
    .whereIn('id', ids as string[])) as { id: number | string; status: OrderStatus; expires_at: Date }[];
  return new Map(rows.map((r) => [String(r.id), { status: r.status, expiresAt: r.expires_at }]));
}

export async function listOrderEvents(db: Knex, id: string): Promise<OrderEventRecord[]> {
  const rows = await db('order_events').where({ order_id: id }).orderBy('id');
  return rows.map(
    (r: {
      event: OrderEvent;
      from_status: OrderStatus | null;
      to_status: OrderStatus;
      source: EventSource;
      at: Date;
    }) => ({
      event: r.event,
      from: r.from_status,
      to: r.to_status,
      source: r.source,
      at: r.at,
    }),
  );
}

/** Quantities per product held by the given orders, ascending by product, for giving them back. */
function heldQuantitiesQuery(trx: Knex.Transaction, orderIds: readonly string[]): Knex.QueryBuilder {
  return trx('order_items')
    .select('product_id')
    .sum({ quantity: 'quantity' })
    .whereIn('order_id', orderIds as string[])
    .groupBy('product_id')
    .orderBy('product_id');
}

const toQuantities = (rows: { product_id: number | string; quantity: number | string }[]) =>
  new Map(rows.map((r) => [String(r.product_id), Number(r.quantity)]));

async function heldQuantities(trx: Knex.Transaction, orderIds: readonly string[]): Promise<Map<string, number>> {
  return toQuantities((await heldQuantitiesQuery(trx, orderIds)) as { product_id: string; quantity: string }[]);
}

export interface TransitionRequest {
  orderId: string;
  transition: Transition;
  source: EventSource;
  now: Date;
  /** Stored with a `pay`. */
  paymentRef?: string;
}

/**
 * Applies one transition as a compare-and-set on its `from` state (and on the deadline, where the table asks),
 * giving stock back when the table says so. Returns false when the order was not in a state that allows it.
 */
export async function applyTransition(db: Knex, req: TransitionRequest): Promise<boolean> {
  const { transition: t, now } = req;
  return db.transaction(async (trx) => {
    const update: Record<string, unknown> = { status: t.to, updated_at: now };
    if (t.stamps) update[t.stamps] = now;
    if (req.paymentRef !== undefined) update.payment_ref = req.paymentRef;
    const query = trx('orders').update(update).where({ id: req.orderId, status: t.from });
    if (t.deadline === 'before') query.andWhere('expires_at', '>', now);
    if (t.deadline === 'after') query.andWhere('expires_at', '<=', now);
    const changed = await query;
    if (changed !== 1) return false;
    if (t.stock === 'release') await returnStock(trx, await heldQuantities(trx, [req.orderId]), now);
    await trx('order_events').insert({
      order_id: req.orderId,
      event: t.event,
      from_status: t.from,
      to_status: t.to,
      source: req.source,
      at: now,
    });
    return true;
  });
}

export interface ClosedOrder {
  id: string;
  /** The order's category (see {@link Order.category}), for metrics. */
  category: string;
  expiresAt: Date;
  closedAt: Date;
}

/** Options for {@link closeDueOrders}. */
export interface CloseDueOptions {
  /** Close only these orders (the closer's batch); omitted: any due order (the sweeper). */
  orderIds?: readonly string[];
  source: EventSource;
  now: Date;
  /** Only orders whose deadline is at least this far behind `now` (default 0). */
  graceMs?: number;
  /** Most orders in this transaction (default: all of `orderIds`, or 500). */
  limit?: number;
}

/**
 * Closes the orders that are still PENDING_PAYMENT and past their deadline, in one transaction: lock them
 * (the closer's batch in id order, the sweeper's oldest first), mark them CLOSED, give their stock back, write
 * their events. Orders that were paid, cancelled, closed already or are not yet due are left alone. Without `orderIds`, locked rows are skipped,
 * so several sweepers share the work.
 */
export async function closeDueOrders(db: Knex, opts: CloseDueOptions): Promise<ClosedOrder[]> {
  const timeout = transitionFor('timeout');
  const cutoff = new Date(opts.now.getTime() - (opts.graceMs ?? 0));
  if (opts.orderIds && opts.orderIds.length === 0) return [];
  return db.transaction(async (trx) => {
    const query = trx('orders')
      .select('id', 'expires_at', 'category')
      .where({ status: timeout.from })
      .andWhere('expires_at', '<=', cutoff)
      .limit(opts.limit ?? opts.orderIds?.length ?? 500);
    if (opts.orderIds)
      query
        .whereIn('id', opts.orderIds as string[])
        .orderBy('id')
        .forUpdate();
    // Oldest first, in the order of the (status, expires_at) index (which ends with the primary key), so the scan
    // stops after `limit` rows. Ordered by id it would read, sort and lock every overdue order to close `limit`
    // of them: a backlog of N orders would cost N row locks per batch. SKIP LOCKED never waits on an order, so
    // this order cannot deadlock with the id-ordered closer.
    else
      query
        .orderBy([{ column: 'expires_at' }, { column: 'id' }])
        .forUpdate()
        .skipLocked();
    const due = (await query) as { id: number | string; expires_at: Date; category: string }[];
    if (due.length === 0) return [];
    const ids = due.map((r) => String(r.id));
    // Two round trips for the rest: close and read what they hold; give it back and record the events.
    const [, held] = await runTogetherRaw(trx, [
      trx('orders')
        .update({ status: timeout.to, closed_at: opts.now, updated_at: opts.now })
        .whereIn('id', ids)
        .andWhere({ status: timeout.from }),
      heldQuantitiesQuery(trx, ids),
    ]);
    const quantities = toQuantities(held as { product_id: number; quantity: string }[]);
    await runTogether(trx, [
      ...(quantities.size > 0 ? [returnStockStatement(trx, quantities, opts.now)] : []),
      trx('order_events').insert(
        ids.map((id) => ({
          order_id: id,
          event: timeout.event,
          from_status: timeout.from,
          to_status: timeout.to,
          source: opts.source,
          at: opts.now,
        })),
      ),
    ]);
    return due.map((r) => ({ id: String(r.id), category: r.category, expiresAt: r.expires_at, closedAt: opts.now }));
  });
}

/** PENDING_PAYMENT orders whose deadline is at or before `cutoff`, oldest first (at most `limit`). */
export async function findOverdueOrders(
  db: Knex,
  cutoff: Date,
  limit: number,
): Promise<{ id: string; expiresAt: Date }[]> {
  const rows = (await db('orders')
    .select('id', 'expires_at')
    .where({ status: transitionFor('timeout').from })
    .andWhere('expires_at', '<=', cutoff)
    .orderBy('expires_at')
    .limit(limit)) as { id: number | string; expires_at: Date }[];
  return rows.map((r) => ({ id: String(r.id), expiresAt: r.expires_at }));
}
