import type { Knex } from 'knex';

// Order events (contract §9) travel through the outbox as rows with a `sequence`: the event's place among its
// order's events (1 = created, no gaps), kept per order in orders.event_seq, bumped by each transaction that writes
// one. The (order_id, sent_at) index serves "is an earlier event of this order still unsent?", which every event
// publish asks so that one order's events leave in commit order (docs/events.md). Orders from before this migration
// start at 0: their first event is 1.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.integer('event_seq').unsigned().notNullable().defaultTo(0);
  });
  await knex.schema.alterTable('outbox', (t) => {
    t.integer('sequence').unsigned().nullable();
    t.index(['order_id', 'sent_at'], 'outbox_order_unsent');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.dropIndex(['order_id', 'sent_at'], 'outbox_order_unsent');
    t.dropColumn('sequence');
  });
  await knex.schema.alterTable('orders', (t) => {
    t.dropColumn('event_seq');
  });
}
