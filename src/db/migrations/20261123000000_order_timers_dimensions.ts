import type { Knex } from 'knex';

// complete_at: when a SHIPPED order completes by itself (the auto-complete timer), set when it ships from the policy
// then in force, so a policy change never moves it; the sweeper scans (status, complete_at) as it scans
// (status, expires_at) for payment timeouts. region and customer_tier: dimensions of GET /stats/timeouts; orders
// created before this migration get the defaults POST /orders gives an order that does not say.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.specificType('complete_at', 'DATETIME(3)').nullable();
    t.string('region', 32).notNullable().defaultTo('unknown');
    t.string('customer_tier', 32).notNullable().defaultTo('standard');
    t.index(['status', 'complete_at'], 'orders_status_complete_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.dropIndex(['status', 'complete_at'], 'orders_status_complete_at');
    t.dropColumn('customer_tier');
    t.dropColumn('region');
    t.dropColumn('complete_at');
  });
}
