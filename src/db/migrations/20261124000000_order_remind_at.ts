import type { Knex } from 'knex';

// remind_at: when a PENDING_PAYMENT order gets its payment reminder (`order.expiring`, contract §9), set at create
// from the policy then in force (deadline − the reminder of the order's category), NULL when it gets none and
// cleared once the reminder fired, so it can never fire twice. The sweeper scans (status, remind_at) for lost
// reminders as it scans (status, expires_at) for lost timeouts. A plain nullable column and a secondary index:
// MySQL 8 and MariaDB 10.11 both add them in place; orders created before it get no reminder.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.specificType('remind_at', 'DATETIME(3)').nullable();
    t.index(['status', 'remind_at'], 'orders_status_remind_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.dropIndex(['status', 'remind_at'], 'orders_status_remind_at');
    t.dropColumn('remind_at');
  });
}
