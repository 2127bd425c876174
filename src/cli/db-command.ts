import type { Command } from 'commander';
import { redactUrl } from '../config';
import { migrateDatabase, schemaStatus, type SchemaStatus } from '../db/connect';
import { errorMessage } from '../log';
import { cliConfig, CliError, printTable } from './cli-context';

const databaseName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

function statusRows(status: SchemaStatus): Record<string, unknown>[] {
  const applied = new Map(status.applied.map((a) => [a.name, a]));
  const known = new Set([...status.applied.map((a) => a.name), ...status.pending]);
  // Recorded and pending names together, in name (= timestamp) order.
  return [...known].sort().map((name) => {
    const row = applied.get(name);
    if (!row) return { migration: name, status: 'pending' };
    return { migration: name, status: 'applied', batch: row.batch, migrated_at: row.migratedAt };
  });
}

export function dbCommand(program: Command): void {
  const db = program.command('db').description('the MySQL schema: apply and list migrations');

  db.command('migrate')
    .description('create the database if it is missing and apply every pending migration')
    .action(async () => {
      const config = cliConfig();
      const where = `${databaseName(config.mysql.url)} at ${redactUrl(config.mysql.url)}`;
      let applied: string[];
      try {
        applied = await migrateDatabase(config.mysql);
      } catch (err) {
        throw new CliError(`migrating ${where} failed: ${errorMessage(err)}`);
      }
      if (applied.length === 0) process.stdout.write(`${where}: already up to date\n`);
      else
        process.stdout.write(
          `${where}: applied ${applied.length} migration${applied.length === 1 ? '' : 's'}\n${applied.map((n) => `  ${n}\n`).join('')}`,
        );
    });

  db.command('status')
    .description('list the migrations applied and pending (exit 1 when any is pending)')
    .option('--json', 'print the status as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = cliConfig();
      const name = databaseName(config.mysql.url);
      let status: SchemaStatus;
      try {
        status = await schemaStatus(config.mysql);
      } catch (err) {
        throw new CliError(`cannot read the database (${redactUrl(config.mysql.url)}): ${errorMessage(err)}`);
      }
      if (status.pending.length > 0) process.exitCode = 1;
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ database: name, upToDate: status.pending.length === 0, ...status }, null, 2)}\n`,
        );
        return;
      }
      printTable(statusRows(status), ['migration', 'status', 'batch', 'migrated_at']);
      if (!status.databaseExists)
        process.stdout.write(
          `database ${name} does not exist yet: run npm run db:migrate (order-timeout db migrate)\n`,
        );
      else if (status.pending.length > 0)
        process.stdout.write(
          `database ${name}: ${status.pending.length} pending: run npm run db:migrate (order-timeout db migrate)\n`,
        );
      else process.stdout.write(`database ${name}: up to date\n`);
    });
}
