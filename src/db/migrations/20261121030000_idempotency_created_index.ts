import type { Knex } from 'knex';

// Idempotency keys are purged after their retention period, oldest first: an index on created_at keeps that a
// range scan instead of a full table scan under every purge.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.index(['created_at'], 'idempotency_keys_created_at_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.dropIndex(['created_at'], 'idempotency_keys_created_at_index');
  });
}
