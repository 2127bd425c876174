import type { Knex } from 'knex';

// The product category whose payment window an order got (see windowCategory), for per-category metrics and
// GET /stats/timeouts. Orders created before this migration are 'default'.
// orders(created_at): the stats query selects the orders created since a moment.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.string('category', 64).notNullable().defaultTo('default');
    t.index(['created_at'], 'orders_created_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.dropIndex(['created_at'], 'orders_created_at');
    t.dropColumn('category');
  });
}
