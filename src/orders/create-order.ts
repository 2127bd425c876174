import { createHash, randomUUID } from 'node:crypto';
import { AppError } from '../errors';
import { readForCreate } from '../db/create-reads';
import { takeStatements } from '../db/holds';
import { insertOrder, type Order } from '../db/orders-repo';
import { outboxInsert, type OutboxMessage } from '../db/outbox-repo';
import { findIdempotentResponse, reserveIdempotencyKey, storeIdempotentResponse } from '../db/idempotency-repo';
import { encodeTimeoutMessage } from '../domain/timeout-message';
import type { UseCaseDeps } from './use-case-deps';
import { toOrderJson } from './order-json';
import { planOrder, type OrderRequest } from './plan-order';

export type CreateOrderInput = OrderRequest;

export interface CreateOrderResult {
  status: number;
  /** The JSON response body, exactly as first sent when replayed. */
  body: string;
  replayed: boolean;
}

export const TIMEOUT_MESSAGE_KIND = 'order.timeout';
const ORDER_ID_MARK = '@@order-id@@';

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
  let scheduled: OutboxMessage | undefined;
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
      const plan = planOrder(input, reads, ctx.paymentTimeouts, now);
      const { windowMs, category } = plan;
      const expiresAt = new Date(now.getTime() + windowMs);
      const messageId = randomUUID();
      const payloadFor = (orderId: string) =>
        encodeTimeoutMessage({ orderId, expiresAt: expiresAt.toISOString(), attempt: 0 }).toString();
      const { order, written } = await insertOrder(
        trx,
        {
          customerId: input.customerId,
          category,
          items: plan.items,
          totalCents: plan.totalCents,
          couponId: plan.couponId,
          pointsRedeemed: plan.pointsRedeemed,
          discountCents: plan.discountCents,
          expiresAt,
        },
        now,
        // The id is only known inside the database: the payload is encoded here and the id spliced in there.
        (orderIdSql) => [
          ...takeStatements(
            { trx, orderId: orderIdSql, customerId: input.customerId, now, itemsCents: plan.itemsCents },
            plan.claims,
          ),
          {
            statement: outboxInsert(
              trx,
              {
                messageId,
                kind: TIMEOUT_MESSAGE_KIND,
                orderId: orderIdSql,
                payload: trx.raw('REPLACE(?, ?, @order_id)', [payloadFor(ORDER_ID_MARK), ORDER_ID_MARK]),
              },
              ctx.processId,
              now,
              ctx.claimForMs,
            ),
          },
        ],
      );
      scheduled = {
        id: String(written.at(-1)!.insertId),
        messageId,
        kind: TIMEOUT_MESSAGE_KIND,
        orderId: order.id,
        payload: payloadFor(order.id),
        attempts: 0,
        message: { orderId: order.id, expiresAt: expiresAt.toISOString(), attempt: 0 },
      };
      created = order;
      const json = JSON.stringify(toOrderJson(order));
      if (idempotencyKey) await storeIdempotentResponse(trx, idempotencyKey, 201, order.id, json);
      return json;
    });
    if (scheduled) ctx.onScheduled?.(scheduled);
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
