import type { Knex } from 'knex';
import type { EventSource, OrderEvent, OrderStatus } from '../domain/order-lifecycle';
import { transitionFor } from '../domain/order-lifecycle';
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
  'customerId' | 'category' | 'items' | 'totalCents' | 'couponId' | 'pointsRedeemed' | 'discountCents' | 'expiresAt'
>;

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
  ].map((statement) => ({ statement }));
  const results = await runChecked(trx, [...statements, ...alsoWrite(orderIdSql)]);
  return {
    order: {
      ...order,
      id: String(results[0]!.insertId),
      status: 'PENDING_PAYMENT',
      paymentRef: null,
      createdAt: now,
      paidAt: null,
      closedAt: null,
      shippedAt: null,
      completedAt: null,
    },
    written: results.slice(statements.length),
  };
}

/** An order with its items, in one round trip (every request that answers with an order reads it). */
export async function findOrder(db: Knex, id: string): Promise<Order | undefined> {
  const rows = (await db('orders AS o')
    .leftJoin('order_items AS i', 'i.order_id', 'o.id')
    .select('o.*', 'i.product_id', 'i.quantity', 'i.unit_price_cents')
    .where('o.id', id)
    .orderBy('i.product_id')) as (OrderRow & {
    product_id: number | string | null;
    quantity: number;
    unit_price_cents: number | string;
  })[];
  if (rows.length === 0) return undefined;
  return toOrder(
    rows[0]!,
    rows
      .filter((i) => i.product_id !== null)
      .map((i) => ({
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
