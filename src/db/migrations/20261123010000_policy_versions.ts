import type { Knex } from 'knex';

// Every version of the timer policy (payment windows, reminders, auto-complete), never updated or deleted: the
// highest version is in force. Version 1 is seeded from the environment by the first process that starts.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('policy_versions', (t) => {
    t.bigIncrements('version').primary();
    // The policy as written (durations as text), JSON.
    t.text('policy').notNullable();
    t.string('changed_by', 128).notNullable();
    // seed, http or cli.
    t.string('via', 10).notNullable();
    t.specificType('changed_at', 'DATETIME(3)').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('policy_versions');
}
