import type { Knex } from 'knex';

// Every accepted payment notification (contract §8), so money is never lost: CAPTURED (it paid its order),
// REFUND_REQUIRED (it arrived for an order that could not take it: cancelled, paid already, or timed out and not
// revived), REFUNDED (an operator said so). payment_ref is unique: a notification replayed by the provider is
// stored once. It is compared byte for byte, as the provider's reference is.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('payments', (t) => {
    t.bigIncrements('id').primary();
    t.string('payment_ref', 128).collate('utf8mb4_bin').notNullable().unique();
    t.bigInteger('order_id').unsigned().notNullable().references('orders.id');
    t.bigInteger('amount_cents').notNullable();
    t.string('status', 20).notNullable();
    // Why a refund is required: order-cancelled, already-paid, late-payment, holds-unavailable.
    t.string('reason', 40).nullable();
    t.specificType('received_at', 'DATETIME(3)').notNullable();
    t.specificType('refunded_at', 'DATETIME(3)').nullable();
    t.index(['status', 'id'], 'payments_status');
    t.index(['order_id'], 'payments_order');
  });
  await knex.raw(
    "ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('CAPTURED', 'REFUND_REQUIRED', 'REFUNDED'))",
  );
  // Orders paid before this table existed: their payment as it was recorded on the order (the first order of a
  // reference used twice keeps it; the audit names the other).
  await knex.raw(
    `INSERT INTO payments (payment_ref, order_id, amount_cents, status, received_at)
     SELECT o.payment_ref, o.id, o.total_cents, 'CAPTURED', COALESCE(o.paid_at, o.updated_at)
       FROM orders o
       JOIN (SELECT MIN(id) AS id FROM orders WHERE payment_ref IS NOT NULL GROUP BY payment_ref) f ON f.id = o.id`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('payments');
}
