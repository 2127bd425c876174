import { createHash } from 'node:crypto';
import { AppError } from '../errors';
import { readForCreate } from '../db/create-reads';
import { takeStatements } from '../db/holds';
import type { Knex } from 'knex';
import { newEvent, publishAfterCommit, written as writtenEvents, type EventWriting } from '../db/order-event-outbox';
import { insertOrder, orderAsCreated, type NewOrder, type Order } from '../db/orders-repo';
import { outboxInsert, type OutboxMessage } from '../db/outbox-repo';
import type { StatementResult } from '../db/run-together';
import { findIdempotentResponse, reserveIdempotencyKey, storeIdempotentResponse } from '../db/idempotency-repo';
import { dueColumns, ORDER_ID_MARK, spliceOrderId, timerDues, timerRows } from './start-timers';
import type { UseCaseDeps } from './use-case-deps';
import { toOrderJson } from './order-json';
import { DEFAULT_REGION, DEFAULT_TIER, planOrder, type OrderRequest } from './plan-order';

export type CreateOrderInput = OrderRequest;

export interface CreateOrderResult {
  status: number;
  /** The JSON response body, exactly as first sent when replayed. */
  body: string;
  replayed: boolean;
}

/** The new order's `created` event (sequence 1): its insert, with the id spliced in, and its publishing after commit. */
function createdEvent(trx: Knex.Transaction, w: EventWriting, newOrder: NewOrder, now: Date) {
  const row = newEvent('created', orderAsCreated(newOrder, ORDER_ID_MARK, now), 1);
  return {
    statement: (orderIdSql: Knex.Raw) => ({
      statement: outboxInsert(
        trx,
        { ...row, orderId: orderIdSql, payload: spliceOrderId(trx, row.payload) },
        w.owner,
        now,
        w.claimForMs,
      ),
    }),
    inserted: (orderId: string, json: string, result: StatementResult) =>
      publishAfterCommit(trx, w, () =>
        writtenEvents([{ ...row, orderId, payload: json }], Number(result.insertId), now),
      ),
  };
}

/** Key order does not change a body's meaning, so it does not change its hash either. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Creates an order: takes everything it holds (stock of every item, promotion quota, coupon, points) or nothing,
 * and writes the order with its timeout message (outbox) in one transaction. With an idempotency key, the same
 * key and body return the first response.
 */
export async function createOrder(
  ctx: UseCaseDeps,
  input: CreateOrderInput,
  idempotencyKey?: string,
): Promise<CreateOrderResult> {
  const requestHash = idempotencyKey ? createHash('sha256').update(canonicalJson(input)).digest('hex') : '';
  let scheduled: OutboxMessage[] = [];
  let created: Order | undefined;
  try {
    const body = await ctx.db.transaction(async (trx) => {
      const now = ctx.now();
      if (idempotencyKey) await reserveIdempotencyKey(trx, idempotencyKey, requestHash, now);

      // Read and lock everything the order would take from, decide, then take it all with the inserts: a refusal
      // throws before anything is taken, and a take that does not match rolls the whole transaction back.
      const reads = await readForCreate(trx, {
        customerId: input.customerId,
        productIds: input.items.map((i) => i.productId),
        couponId: input.couponId,
        pointsToRedeem: input.pointsToRedeem ?? 0,
        now,
      });
      const policy = ctx.policy.current().policy;
      const plan = planOrder(input, reads, policy.paymentWindows, now);
      const categories = input.items.map((i) => reads.products.get(i.productId)!.category);
      // Every timer creation starts (the payment timeout, a reminder) is due by the policy in force now, for good.
      const dues = timerDues(policy, 'create', { categories }, now);
      const { expires_at: expiresAt, ...alsoSet } = dueColumns(dues);
      let timers: ReturnType<typeof timerRows> | undefined;
      const newOrder: NewOrder = {
        customerId: input.customerId,
        category: plan.category,
        items: plan.items,
        totalCents: plan.totalCents,
        couponId: plan.couponId,
        pointsRedeemed: plan.pointsRedeemed,
        discountCents: plan.discountCents,
        expiresAt: expiresAt!,
        alsoSet,
        region: input.region ?? DEFAULT_REGION,
        customerTier: input.customerTier ?? DEFAULT_TIER,
      };
      const event = ctx.events && createdEvent(trx, ctx.events, newOrder, now);
      // The id is only known inside the database: payloads are encoded here and the id spliced in there.
      const { order, written } = await insertOrder(trx, newOrder, now, (orderIdSql) => {
        timers = timerRows(trx, ctx, dues, orderIdSql, now);
        return [
          ...takeStatements(
            { trx, orderId: orderIdSql, customerId: input.customerId, now, itemsCents: plan.itemsCents },
            plan.claims,
          ),
          ...(event ? [event.statement(orderIdSql)] : []),
          ...timers.statements,
        ];
      });
      scheduled = timers!.written(order.id, written.slice(-dues.length));
      created = order;
      const json = JSON.stringify(toOrderJson(order));
      event?.inserted(order.id, json, written.at(-dues.length - 1)!);
      if (idempotencyKey) await storeIdempotentResponse(trx, idempotencyKey, 201, order.id, json);
      return json;
    });
    if (scheduled.length > 0) ctx.onScheduled?.(scheduled);
    if (created) ctx.onCreated?.(created);
    return { status: 201, body, replayed: false };
  } catch (err) {
    if (idempotencyKey && (err as { code?: string }).code === 'ER_DUP_ENTRY') {
      return replayIdempotent(ctx, idempotencyKey, requestHash);
    }
    throw err;
  }
}

async function replayIdempotent(ctx: UseCaseDeps, key: string, requestHash: string): Promise<CreateOrderResult> {
  const stored = await findIdempotentResponse(ctx.db, key);
  if (!stored)
    throw new AppError(
      409,
      'idempotency-key-reused',
      'Request in progress',
      `a request with Idempotency-Key ${key} is still in progress; retry`,
    );
  if (stored.requestHash !== requestHash) {
    throw new AppError(
      422,
      'idempotency-key-reused',
      'Idempotency key reused',
      `Idempotency-Key ${key} was already used with a different request body`,
    );
  }
  return { status: stored.statusCode, body: stored.body, replayed: true };
}
