import type { Knex } from 'knex';

export interface StoredResponse {
  requestHash: string;
  statusCode: number;
  body: string;
}

/**
 * Reserves a key inside the caller's transaction. A concurrent request with the same key blocks on the
 * unique index until this transaction ends, then fails with ER_DUP_ENTRY and reads what was stored.
 */
export async function reserveIdempotencyKey(
  trx: Knex.Transaction,
  key: string,
  requestHash: string,
  now: Date,
): Promise<void> {
  await trx('idempotency_keys').insert({
    idempotency_key: key,
    request_hash: requestHash,
    status_code: 0,
    order_id: 0,
    response_body: '',
    created_at: now,
  });
}

export async function storeIdempotentResponse(
  trx: Knex.Transaction,
  key: string,
  statusCode: number,
  orderId: string,
  body: string,
): Promise<void> {
  await trx('idempotency_keys')
    .update({ status_code: statusCode, order_id: orderId, response_body: body })
    .where({ idempotency_key: key });
}

export async function findIdempotentResponse(db: Knex, key: string): Promise<StoredResponse | undefined> {
  const row = (await db('idempotency_keys').where({ idempotency_key: key }).first()) as
    { request_hash: string; status_code: number; response_body: string } | undefined;
  return row ? { requestHash: row.request_hash, statusCode: row.status_code, body: row.response_body } : undefined;
}
