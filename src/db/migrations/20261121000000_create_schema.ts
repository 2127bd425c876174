import type { Knex } from 'knex';

// DATETIME(3) everywhere: UTC with milliseconds, written by the application's clock.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('products', (t) => {
    t.bigIncrements('id').primary();
    t.string('sku', 64).notNullable().unique();
    t.string('name', 255).notNullable();
    t.string('category', 64).notNullable();
    t.bigInteger('price_cents').notNullable();
    t.integer('stock').notNullable();
    // Everything ever put into stock; audit checks stock + held + sold = stock_received.
    t.integer('stock_received').notNullable();
    t.specificType('created_at', 'DATETIME(3)').notNullable();
    t.specificType('updated_at', 'DATETIME(3)').notNullable();
  });
  await knex.raw('ALTER TABLE products ADD CONSTRAINT products_stock_not_negative CHECK (stock >= 0)');

  await knex.schema.createTable('orders', (t) => {
    t.bigIncrements('id').primary();
    t.string('customer_id', 64).notNullable();
    t.string('status', 20).notNullable();
    t.bigInteger('total_cents').notNullable();
    t.string('payment_ref', 128).nullable();
    t.specificType('expires_at', 'DATETIME(3)').notNullable();
    t.specificType('created_at', 'DATETIME(3)').notNullable();
    t.specificType('paid_at', 'DATETIME(3)').nullable();
    t.specificType('closed_at', 'DATETIME(3)').nullable();
    t.specificType('shipped_at', 'DATETIME(3)').nullable();
    t.specificType('completed_at', 'DATETIME(3)').nullable();
    t.specificType('updated_at', 'DATETIME(3)').notNullable();
    t.index(['status', 'expires_at'], 'orders_status_expires_at');
    t.index(['customer_id', 'created_at'], 'orders_customer_created');
  });

  await knex.schema.createTable('order_items', (t) => {
    t.bigInteger('order_id').unsigned().notNullable().references('orders.id');
    t.bigInteger('product_id').unsigned().notNullable().references('products.id');
    t.integer('quantity').notNullable();
    t.bigInteger('unit_price_cents').notNullable();
    t.primary(['order_id', 'product_id']);
    t.index(['product_id'], 'order_items_product');
  });

  await knex.schema.createTable('order_events', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('order_id').unsigned().notNullable().references('orders.id');
    t.string('event', 20).notNullable();
    t.string('from_status', 20).nullable();
    t.string('to_status', 20).notNullable();
    t.string('source', 20).notNullable();
    t.specificType('at', 'DATETIME(3)').notNullable();
    t.index(['order_id', 'id'], 'order_events_order');
  });

  await knex.schema.createTable('outbox', (t) => {
    t.bigIncrements('id').primary();
    t.string('message_id', 64).notNullable().unique();
    t.string('kind', 40).notNullable();
    t.bigInteger('order_id').unsigned().nullable();
    t.text('payload').notNullable();
    t.specificType('created_at', 'DATETIME(3)').notNullable();
    // A process owns an unsent row until claimed_until; then any relay may take it.
    t.string('claimed_by', 64).nullable();
    t.specificType('claimed_until', 'DATETIME(3)').nullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('last_error', 500).nullable();
    t.specificType('sent_at', 'DATETIME(3)').nullable();
    t.index(['sent_at', 'claimed_until'], 'outbox_unsent');
  });

  await knex.schema.createTable('idempotency_keys', (t) => {
    t.string('idempotency_key', 255).primary();
    t.string('request_hash', 64).notNullable();
    t.integer('status_code').notNullable();
    t.bigInteger('order_id').unsigned().notNullable();
    // The exact response first given, replayed for the same key and body.
    t.text('response_body', 'mediumtext').notNullable();
    t.specificType('created_at', 'DATETIME(3)').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['idempotency_keys', 'outbox', 'order_events', 'order_items', 'orders', 'products']) {
    await knex.schema.dropTableIfExists(table);
  }
}
