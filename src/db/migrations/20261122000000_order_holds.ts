import type { Knex } from 'knex';

// What an order holds besides stock (contract §7): coupons, promotion quota, points. Every counter a hold moves
// has a CHECK, so a give-back or take that would drive it out of range fails the transaction instead of
// corrupting it. Stock holds stay in order_items; the other kinds' holds are rows of order_holds.
// Customer ids are compared byte for byte (utf8mb4_bin): under the database's case-insensitive collation "Bob"
// and "bob" would share one points account.
const BINARY = 'utf8mb4_bin';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('coupons', (t) => {
    t.bigIncrements('id').primary();
    t.string('customer_id', 64).collate(BINARY).notNullable();
    t.bigInteger('discount_cents').notNullable();
    t.bigInteger('min_total_cents').notNullable();
    t.specificType('expires_at', 'DATETIME(3)').notNullable();
    // AVAILABLE, HELD (by the pending order in order_id), USED (its order paid).
    t.string('status', 20).notNullable();
    t.bigInteger('order_id').unsigned().nullable();
    t.specificType('created_at', 'DATETIME(3)').notNullable();
    t.specificType('updated_at', 'DATETIME(3)').notNullable();
    t.index(['customer_id', 'id'], 'coupons_customer');
  });
  await knex.raw(
    "ALTER TABLE coupons ADD CONSTRAINT coupons_status CHECK (status IN ('AVAILABLE', 'HELD', 'USED') AND (status = 'AVAILABLE') = (order_id IS NULL))",
  );

  await knex.schema.createTable('promotions', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('product_id').unsigned().notNullable().references('products.id');
    t.bigInteger('price_cents').notNullable();
    t.integer('quota').notNullable();
    t.integer('per_customer_limit').notNullable();
    t.specificType('starts_at', 'DATETIME(3)').notNullable();
    t.specificType('ends_at', 'DATETIME(3)').notNullable();
    // Units held by pending orders and kept by paid ones. A customer's units are counted from their orders
    // (order_holds), under this row's lock: no counter per customer to keep in step.
    t.integer('sold').notNullable().defaultTo(0);
    t.specificType('created_at', 'DATETIME(3)').notNullable();
    t.specificType('updated_at', 'DATETIME(3)').notNullable();
    t.index(['product_id', 'starts_at'], 'promotions_product');
  });
  await knex.raw('ALTER TABLE promotions ADD CONSTRAINT promotions_sold CHECK (sold >= 0 AND sold <= quota)');

  await knex.schema.createTable('points_accounts', (t) => {
    t.string('customer_id', 64).collate(BINARY).primary();
    // Points the customer can redeem; `held`: redeemed by pending orders (given back if they do not pay).
    t.bigInteger('balance').notNullable();
    t.bigInteger('held').notNullable();
    t.specificType('created_at', 'DATETIME(3)').notNullable();
    t.specificType('updated_at', 'DATETIME(3)').notNullable();
  });
  await knex.raw('ALTER TABLE points_accounts ADD CONSTRAINT points_not_negative CHECK (balance >= 0 AND held >= 0)');

  // Every grant (delta > 0) and take (delta < 0) by POST /customers/:id/points; the audit adds them up.
  await knex.schema.createTable('points_ledger', (t) => {
    t.bigIncrements('id').primary();
    t.string('customer_id', 64).collate(BINARY).notNullable();
    t.bigInteger('delta').notNullable();
    t.string('reason', 255).notNullable();
    t.specificType('created_at', 'DATETIME(3)').notNullable();
    t.index(['customer_id', 'id'], 'points_ledger_customer');
  });

  await knex.schema.createTable('order_holds', (t) => {
    t.bigInteger('order_id').unsigned().notNullable().references('orders.id');
    t.string('kind', 20).notNullable();
    // A promotion or coupon id, or the customer id for points.
    t.string('resource_id', 64).collate(BINARY).notNullable();
    // The order's customer, so that a customer's units of a promotion are an index range, not a scan.
    t.string('customer_id', 64).collate(BINARY).notNullable();
    t.bigInteger('amount').notNullable();
    t.primary(['order_id', 'kind', 'resource_id']);
    t.index(['kind', 'resource_id', 'customer_id'], 'order_holds_resource');
  });

  await knex.schema.alterTable('orders', (t) => {
    t.bigInteger('coupon_id').unsigned().nullable();
    t.bigInteger('points_redeemed').notNullable().defaultTo(0);
    // Coupon discount + points redeemed: total_cents = items - discount_cents.
    t.bigInteger('discount_cents').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.dropColumn('discount_cents');
    t.dropColumn('points_redeemed');
    t.dropColumn('coupon_id');
  });
  for (const table of ['order_holds', 'points_ledger', 'points_accounts', 'promotions', 'coupons']) {
    await knex.schema.dropTableIfExists(table);
  }
}
