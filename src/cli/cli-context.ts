import type { Knex } from 'knex';
import { ConfigError, loadConfig, redactUrl, type AppConfig } from '../config';
import { connectDatabase } from '../db/connect';
import { errorMessage, setLogLevel } from '../log';

/** An error the CLI reports as one line, with its exit code (2: could not run; 1: ran and found a problem). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export function cliConfig(): AppConfig {
  try {
    const config = loadConfig();
    setLogLevel(process.env.LOG_LEVEL ?? 'warn');
    return config;
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message.replace(/\n\s*/g, ' '));
    throw err;
  }
}

/**
 * Opens the database and checks it answers, so an outage is one clear line rather than a stack trace.
 * `multipleStatements` for commands that close orders (they share the service's batched close).
 */
export async function cliDatabase(config: AppConfig, opts: { multipleStatements?: boolean } = {}): Promise<Knex> {
  const db = connectDatabase({ url: config.mysql.url, poolSize: 2, ...opts });
  try {
    await db.raw('SELECT 1 FROM orders LIMIT 1');
  } catch (err) {
    await db.destroy();
    throw new CliError(`database unreachable or not migrated at ${redactUrl(config.mysql.url)}: ${errorMessage(err)}`);
  }
  return db;
}

const cellText = (value: unknown): string => {
  if (value === undefined || value === null) return '';
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'string' ? value : JSON.stringify(value);
};

/** Writes a table of rows to stdout, columns padded to their widest cell. */
export function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  const cells = rows.map((r) => columns.map((c) => cellText(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(columns)}\n${cells.map(line).join('\n')}${cells.length ? '\n' : ''}`);
}
