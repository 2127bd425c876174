import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import mysql from 'mysql2/promise';
import { logger } from '../log';

/** Options for {@link connectDatabase}. */
export interface DatabaseOptions {
  /** `mysql://user:pass@host:port/database`. */
  url: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /**
   * Lets one query carry several statements (default false). Only pools that run `runTogether` batches (the
   * create and close transactions) turn it on: it saves round trips there, and anywhere else it would only widen
   * what a SQL injection could do.
   */
  multipleStatements?: boolean;
}

function connectionFromUrl(url: string) {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(database)) {
    throw new Error(`MYSQL_URL must name a database made of letters, digits and _ (got "${database}")`);
  }
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username || 'root'),
    password: decodeURIComponent(parsed.password),
    database,
  };
}

/** Creates the database named in the URL when it does not exist yet. */
export async function ensureDatabase(url: string): Promise<void> {
  const { database, ...server } = connectionFromUrl(url);
  const conn = await mysql.createConnection(server);
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
}

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

/** The knex configuration for a URL: UTC sessions, ids as exact numbers or strings. */
export function knexConfig(options: DatabaseOptions): Knex.Config {
  return {
    client: 'mysql2',
    connection: {
      ...connectionFromUrl(options.url),
      timezone: 'Z',
      supportBigNumbers: true,
      multipleStatements: options.multipleStatements ?? false,
      dateStrings: false,
      charset: 'utf8mb4',
    },
    // knex prints to the console by default; keep everything in the JSON log.
    log: {
      warn: (message: unknown) => logger.warn('knex', { detail: String(message) }),
      error: (message: unknown) => logger.error('knex', { detail: String(message) }),
      debug: (message: unknown) => logger.debug('knex', { detail: String(message) }),
      deprecate: (method: string, alternative: string) => logger.warn('knex deprecation', { method, alternative }),
    },
    // Fail fast when the database is down: callers back off and retry on their own terms.
    acquireConnectionTimeout: 5_000,
    pool: {
      min: 0,
      max: options.poolSize ?? 10,
      afterCreate(
        conn: { query: (sql: string, cb: (err: Error | null) => void) => void },
        done: (err: Error | null, conn: unknown) => void,
      ) {
        // UTC for DATETIME(3); READ COMMITTED so the sweeper's locking scans take no gap locks that would block new orders.
        conn.query("SET time_zone = '+00:00'", (err) => {
          if (err) return done(err, conn);
          conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', (err2) => {
            if (err2) return done(err2, conn);
            // A row held by someone else (an operator's open SQL session) stalls a closing batch for 5 s, then
            // the retry, rather than 50 s per attempt.
            conn.query('SET SESSION innodb_lock_wait_timeout = 5', (err3) => done(err3, conn));
          });
        });
      },
    },
    migrations: { directory: MIGRATIONS_DIR, loadExtensions: ['.ts', '.js'], tableName: 'knex_migrations' },
  };
}

export function connectDatabase(options: DatabaseOptions): Knex {
  return knexFactory(knexConfig(options));
}

/** Creates the database if missing and applies every pending migration. */
export async function migrateDatabase(options: DatabaseOptions): Promise<void> {
  await ensureDatabase(options.url);
  const db = connectDatabase({ ...options, poolSize: 1 });
  try {
    await db.migrate.latest();
  } finally {
    await db.destroy();
  }
}
