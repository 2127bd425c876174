import knexFactory, { type Knex } from 'knex';
import mysql from 'mysql2/promise';
import { redactUrl } from '../config';
import { logger } from '../log';
import { MigrationSource } from './migration-source';

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

const MIGRATIONS_TABLE = 'knex_migrations';

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
    migrations: { migrationSource: new MigrationSource(), tableName: MIGRATIONS_TABLE },
  };
}

export function connectDatabase(options: DatabaseOptions): Knex {
  return knexFactory(knexConfig(options));
}

/** Creates the database if missing and applies every pending migration; returns the names applied. */
/**
 * The outbox knows the ids of a multi-row insert as the first id + i: that needs `auto_increment_increment` = 1
 * (multi-primary Galera or Group Replication raise it), so start-up refuses any other step rather than mark the
 * wrong rows sent.
 */
export async function assertAutoIncrementStep(db: Knex): Promise<void> {
  const [rows] = (await db.raw('SELECT @@auto_increment_increment AS step')) as [{ step: number | string }[]];
  const step = Number(rows[0]?.step ?? 1);
  if (step !== 1)
    throw new Error(
      `the database's auto_increment_increment is ${step}; order-timeout needs 1 (the outbox numbers the rows of one insert consecutively): write through a single primary, or set auto_increment_increment = 1 for its user`,
    );
}

export async function migrateDatabase(options: DatabaseOptions): Promise<string[]> {
  await ensureDatabase(options.url);
  const db = connectDatabase({ ...options, poolSize: 1 });
  try {
    const [, applied] = (await db.migrate.latest()) as [number, string[]];
    return applied;
  } finally {
    await db.destroy();
  }
}

/** Where a database stands against the migrations of this build. */
export interface SchemaStatus {
  /** False when the database named in the URL does not exist yet. */
  databaseExists: boolean;
  /** Migrations recorded in the database, oldest first (names this build does not have included). */
  applied: { name: string; batch: number; migratedAt: Date }[];
  /** Migrations of this build not yet applied, oldest first. */
  pending: string[];
}

/**
 * Reads the migration state without changing anything: knex's own `migrate.list()` and `currentVersion()`
 * create the migrations tables, which a check must not do (and a user without CREATE could not).
 */
export async function schemaStatus(options: DatabaseOptions): Promise<SchemaStatus> {
  const names = await new MigrationSource().names();
  const { database, ...server } = connectionFromUrl(options.url);
  const conn = await mysql.createConnection(server);
  let tableExists: boolean;
  try {
    const [schemas] = await conn.query('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
    if ((schemas as unknown[]).length === 0) return { databaseExists: false, applied: [], pending: names };
    const [tables] = await conn.query(
      'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [database, MIGRATIONS_TABLE],
    );
    tableExists = (tables as unknown[]).length > 0;
  } finally {
    await conn.end();
  }
  if (!tableExists) return { databaseExists: true, applied: [], pending: names };
  const db = connectDatabase({ ...options, poolSize: 1 });
  try {
    const rows = (await db(MIGRATIONS_TABLE).select('name', 'batch', 'migration_time').orderBy('id')) as {
      name: string;
      batch: number;
      migration_time: Date;
    }[];
    const done = new Set(rows.map((r) => r.name));
    return {
      databaseExists: true,
      applied: rows.map((r) => ({ name: r.name, batch: r.batch, migratedAt: r.migration_time })),
      pending: names.filter((n) => !done.has(n)),
    };
  } finally {
    await db.destroy();
  }
}

/** The database is missing or has migrations pending, and this process was told not to migrate it. */
export class SchemaBehindError extends Error {}

/** Throws a {@link SchemaBehindError} saying what to run when the schema is not at this build's latest migration. */
export async function assertSchemaCurrent(options: DatabaseOptions): Promise<void> {
  const status = await schemaStatus(options);
  const fix = 'run `npm run db:migrate` (in the image: `order-timeout db migrate`), or set MYSQL_MIGRATE_ON_START=true';
  if (!status.databaseExists)
    throw new SchemaBehindError(
      `the database ${connectionFromUrl(options.url).database} does not exist at ${redactUrl(options.url)} and MYSQL_MIGRATE_ON_START is false: ${fix}`,
    );
  if (status.pending.length > 0)
    throw new SchemaBehindError(
      `the database schema is behind this version (${status.pending.length} migration${status.pending.length === 1 ? '' : 's'} pending: ${status.pending.join(', ')}) and MYSQL_MIGRATE_ON_START is false: ${fix}`,
    );
}
