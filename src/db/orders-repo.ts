import type { Knex } from 'knex';
import type { EventSource, OrderEvent, OrderStatus } from '../domain/order-lifecycle';
import { transitionFor } from '../domain/order-lifecycle';
import type { TimerKind } from '../domain/timer-kinds';
import { runChecked, type CheckedStatement } from './holds';
import type { StatementResult } from './run-together';

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
  /** Items at the prices they sold at, less `discountCents`; never below 0. */
  totalCents: number;
  /** The coupon the order holds (or used), if any. */
  couponId: string | null;
  /** Points redeemed, 1 point = 1 cent off. */
  pointsRedeemed: number;
  /** The coupon's discount plus the points redeemed. */
  discountCents: number;
  paymentRef: string | null;
  expiresAt: Date;
  createdAt: Date;
  paidAt: Date | null;
  closedAt: Date | null;
  shippedAt: Date | null;
  completedAt: Date | null;
  /** When a SHIPPED order completes by itself (the auto-complete timer); null until it ships. */
  completeAt: Date | null;
  /** Where the order was placed (a short token), for stats; `unknown` when not given. */
  region: string;
  /** The customer's tier (a short token), for stats; `standard` when not given. */
  customerTier: string;
}

export interface OrderEventRecord {
  event: OrderEvent | 'create';
  from: OrderStatus | null;
  to: OrderStatus;
  source: EventSource;
  at: Date;
}

export type NewOrder = Pick<
  Order,
  | 'customerId'
  | 'category'
  | 'items'
  | 'totalCents'
  | 'couponId'
  | 'pointsRedeemed'
  | 'discountCents'
  | 'expiresAt'
  | 'region'
  | 'customerTier'
> & {
  /** More orders columns the insert sets: the due columns of the timers creation starts besides the deadline. */
  alsoSet?: Record<string, Date>;
};

interface OrderRow {
  id: number | string;
  customer_id: string;
  status: OrderStatus;
  category: string;
  total_cents: number | string;
  coupon_id: number | string | null;
  points_redeemed: number | string;
  discount_cents: number | string;
  payment_ref: string | null;
  expires_at: Date;
  created_at: Date;
  paid_at: Date | null;
  closed_at: Date | null;
  shipped_at: Date | null;
  completed_at: Date | null;
  complete_at: Date | null;
  region: string;
  customer_tier: string;
}

const toOrder = (r: OrderRow, items: OrderItem[]): Order => ({
  id: String(r.id),
  customerId: r.customer_id,
  status: r.status,
  category: r.category,
  items,
  totalCents: Number(r.total_cents),
  couponId: r.coupon_id === null ? null : String(r.coupon_id),
  pointsRedeemed: Number(r.points_redeemed),
  discountCents: Number(r.discount_cents),
  paymentRef: r.payment_ref,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
  paidAt: r.paid_at,
  closedAt: r.closed_at,
  shippedAt: r.shipped_at,
  completedAt: r.completed_at,
  completeAt: r.complete_at,
  region: r.region,
  customerTier: r.customer_tier,
});

/**
 * Inserts an order with its items, its `create` event and whatever `alsoWrite` adds for it (what it holds, the
 * timeout's outbox row), all in one round trip: later statements refer to the new id as `orderIdSql` (a session
 * variable set from LAST_INSERT_ID()). A checked statement that does not match throws its error, so the caller's
 * transaction rolls back. Returns the order and the results of `alsoWrite`.
 */
export async function insertOrder(
  trx: Knex.Transaction,
  order: NewOrder,
  now: Date,
  alsoWrite: (orderIdSql: Knex.Raw) => CheckedStatement[] = () => [],
): Promise<{ order: Order; written: StatementResult[] }> {
  const orderIdSql = trx.raw('@order_id');
  const statements = [
    trx('orders').insert({
      customer_id: order.customerId,
      status: 'PENDING_PAYMENT',
      category: order.category,
      total_cents: order.totalCents,
      coupon_id: order.couponId,
      points_redeemed: order.pointsRedeemed,
      discount_cents: order.discountCents,
      expires_at: order.expiresAt,
      region: order.region,
      customer_tier: order.customerTier,
      ...order.alsoSet,
      created_at: now,
      updated_at: now,
      // Its `created` event is the first (written by `alsoWrite` when events are on; numbering starts here anyway).
      event_seq: 1,
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
  ].map((statement) => ({ statement }));
  const results = await runChecked(trx, [...statements, ...alsoWrite(orderIdSql)]);
  return { order: orderAsCreated(order, String(results[0]!.insertId), now), written: results.slice(statements.length) };
}

/** A new order as {@link insertOrder} writes it, under `id`. */
export const orderAsCreated = ({ alsoSet: _alsoSet, ...order }: NewOrder, id: string, now: Date): Order => ({
  ...order,
  id,
  status: 'PENDING_PAYMENT',
  paymentRef: null,
  createdAt: now,
  paidAt: null,
  closedAt: null,
  shippedAt: null,
  completedAt: null,
  completeAt: null,
});

type OrderItemRow = OrderRow & {
  event_seq: number;
  product_id: number | string | null;
  quantity: number;
  unit_price_cents: number | string;
};

/** The SELECT of orders with their items (one row per item), for {@link ordersFromRows}; runs in any transaction. */
export function ordersWithItems(db: Knex | Knex.Transaction, ids: readonly string[]): Knex.QueryBuilder {
  return db('orders AS o')
    .leftJoin('order_items AS i', 'i.order_id', 'o.id')
    .select('o.*', 'i.product_id', 'i.quantity', 'i.unit_price_cents')
    .whereIn('o.id', ids as string[])
    .orderBy([{ column: 'o.id' }, { column: 'i.product_id' }]);
}

/** An order as read, with the sequence of its latest event (`orders.event_seq`). */
export interface SequencedOrder {
  order: Order;
  eventSeq: number;
}

/** The orders in the rows of {@link ordersWithItems}, by id. */
export function ordersFromRows(rows: readonly unknown[]): Map<string, SequencedOrder> {
  const byId = new Map<string, OrderItemRow[]>();
  for (const r of rows as OrderItemRow[]) {
    const own = byId.get(String(r.id));
    if (own) own.push(r);
    else byId.set(String(r.id), [r]);
  }
  return new Map(
    [...byId].map(([id, own]) => [
      id,
      {
        eventSeq: Number(own[0]!.event_seq),
        order: toOrder(
          own[0]!,
          own
            .filter((i) => i.product_id !== null)
            .map((i) => ({
              productId: String(i.product_id),
              quantity: i.quantity,
              unitPriceCents: Number(i.unit_price_cents),
            })),
        ),
      },
    ]),
  );
}

/** An order with its items, in one round trip (every request that answers with an order reads it). */
export async function findOrder(db: Knex, id: string): Promise<Order | undefined> {
  return ordersFromRows((await ordersWithItems(db, [id])) as unknown[]).get(id)?.order;
}

/** Status of an order and when one of its timers is due, as the closer needs them to decide what an unfired timer means. */
export interface OrderState {
  status: OrderStatus;
  /** The timer's due column (`expires_at`, `complete_at`, `remind_at`); null when that timer never started (or cleared). */
  dueAt: Date | null;
  /** The payment deadline, for timers legal only on one side of it (the reminder). */
  expiresAt: Date;
}

/** Status and due time of each order that exists among `ids` (missing ids are absent from the map). */
export async function findOrderStates(
  db: Knex,
  ids: readonly string[],
  dueColumn: TimerKind['dueColumn'] = 'expires_at',
): Promise<Map<string, OrderState>> {
  const rows = (await db('orders')
    .select('id', 'status', `${dueColumn} AS due_at`, 'expires_at')
    .whereIn('id', ids as string[])) as {
    id: number | string;
    status: OrderStatus;
    due_at: Date | null;
    expires_at: Date;
  }[];
  return new Map(rows.map((r) => [String(r.id), { status: r.status, dueAt: r.due_at, expiresAt: r.expires_at }]));
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
