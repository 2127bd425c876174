import path from 'node:path';
import { z } from 'zod';
import { parseDelayLevels, type DelayLevel } from './domain/delay-plan';
import { parseDuration } from './domain/duration';
import type { PaymentTimeouts } from './domain/payment-window';

/** Validated service configuration; every duration is in milliseconds. */
export interface AppConfig {
  http: {
    /** HTTP listen port (`HTTP_PORT`, default 3000). */
    port: number;
    /** Largest accepted request body in bytes (default 100 kB). */
    bodyLimit: number;
    /**
     * Longest a client may take to send a whole request, headers and body (default 30s); a slower one gets
     * 408 and its connection is closed, so slow or stalled uploads cannot hold sockets for ever.
     */
    requestTimeout: number;
    /** Longest a client may take to send the request headers (default 10s; at most `requestTimeout`). */
    headersTimeout: number;
  };
  amqp: {
    /** Broker URL (`AMQP_URL`); may carry credentials, so never log it as is. */
    url: string;
    /** AMQP heartbeat (default 10s): how fast a hung broker is noticed. */
    heartbeat: number;
    /** How long a publish may wait for the broker's confirm before it counts as failed (default 10s). */
    publishTimeout: number;
    /** Management API base URL (`RABBITMQ_MANAGEMENT_URL`), for `topology check`; credentials default to the AMQP URL's. */
    managementUrl: string;
  };
  mysql: {
    /** MySQL / MariaDB URL (`MYSQL_URL`); the database is created when missing. */
    url: string;
    /** Connections in the pool (default 10). */
    poolSize: number;
    /** Apply pending migrations at start-up (`MYSQL_MIGRATE_ON_START`, default true); when false, a schema behind stops start-up. */
    migrateOnStart: boolean;
  };
  /** Delay levels, ascending (`DELAY_LEVELS`). */
  delayLevels: DelayLevel[];
  /** Payment window per category (`ORDER_PAYMENT_TIMEOUTS`). */
  orderPaymentTimeouts: PaymentTimeouts;
  closer: {
    /** Unacknowledged timeout messages held at once (default 500). */
    prefetch: number;
    /** Most orders closed in one transaction (default 200). */
    batchSize: number;
    /** Closing transactions run at once (default 3). */
    concurrency: number;
    /** Database failures retried through the delay levels before a message is parked (default 8). */
    maxAttempts: number;
    /** Deliveries of one message before RabbitMQ parks it: the guard against messages that crash the process (default 5). */
    deliveryLimit: number;
  };
  outbox: {
    /** How often the relay looks for unpublished rows (default 1s). */
    relayInterval: number;
    /** How long a process owns the rows it claimed before another may take them (default 30s). */
    claimFor: number;
    /** Rows per relay round (default 500). */
    batchSize: number;
    /** How long published rows are kept for inspection (default 1h). */
    retainSent: number;
  };
  idempotency: {
    /** How long an `Idempotency-Key` and its first response are kept for replays (`IDEMPOTENCY_RETENTION`, default 24h). */
    retention: number;
  };
  retention: {
    /** How often expired rows (sent outbox rows, idempotency keys) are purged (default 1m). */
    interval: number;
    /** Rows deleted per statement while purging (default 1000). */
    batchSize: number;
  };
  sweeper: {
    /** How often the sweeper runs (`SWEEP_INTERVAL`, default 30s). */
    interval: number;
    /** How far past its deadline an order must be before the sweeper takes it (default 10s). */
    grace: number;
    /** Orders closed per sweeper transaction (default 500). */
    batchSize: number;
  };
  shutdown: {
    /**
     * After SIGTERM, how long `/readyz` answers 503 while HTTP still serves (`SHUTDOWN_READINESS_DELAY`, default
     * 5s), so a load balancer stops sending requests before the listener closes. 0 closes at once.
     */
    readinessDelay: number;
    /** Longest a SIGTERM drain may take, readiness delay included, before the process exits anyway (`SHUTDOWN_TIMEOUT`, default 20s). */
    timeout: number;
  };
  log: {
    /** winston level (`LOG_LEVEL`, default info). */
    level: string;
  };
  payments: {
    /**
     * Shared secret of the payment provider (`PAYMENT_WEBHOOK_SECRET`): when set, `POST /orders/:id/pay` needs
     * `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`; empty, unchecked. Required in production; never logged.
     */
    webhookSecret: string;
    /** What a payment for an order that timed out does (`LATE_PAYMENT_POLICY`, default revive): revive it or refund. */
    latePaymentPolicy: 'revive' | 'refund';
  };
}

/** Which environment variable feeds which key, so errors can name both. */
const ENV_NAMES: Record<string, string> = {
  'http.port': 'HTTP_PORT',
  'http.requestTimeout': 'HTTP_REQUEST_TIMEOUT',
  'http.headersTimeout': 'HTTP_HEADERS_TIMEOUT',
  'amqp.url': 'AMQP_URL',
  'amqp.managementUrl': 'RABBITMQ_MANAGEMENT_URL',
  'mysql.url': 'MYSQL_URL',
  'mysql.migrateOnStart': 'MYSQL_MIGRATE_ON_START',
  delayLevels: 'DELAY_LEVELS',
  orderPaymentTimeouts: 'ORDER_PAYMENT_TIMEOUTS',
  'sweeper.interval': 'SWEEP_INTERVAL',
  'idempotency.retention': 'IDEMPOTENCY_RETENTION',
  'shutdown.readinessDelay': 'SHUTDOWN_READINESS_DELAY',
  'shutdown.timeout': 'SHUTDOWN_TIMEOUT',
  'log.level': 'LOG_LEVEL',
  'payments.webhookSecret': 'PAYMENT_WEBHOOK_SECRET',
  'payments.latePaymentPolicy': 'LATE_PAYMENT_POLICY',
};

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value > 0) return value;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${value} must be a positive whole number of milliseconds` });
    return z.NEVER;
  }
  try {
    return parseDuration(value);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    return z.NEVER;
  }
});

/** A duration that may also be zero (`0`, `0s`): for delays that can be turned off. */
const durationOrZero = z.union([z.string(), z.number()]).pipe(
  z.union([
    z.literal(0),
    z
      .string()
      .regex(/^\s*0+\s*(ms|s|m|h|d)?\s*$/)
      .transform(() => 0),
    duration,
  ]),
);

const positiveInt = z.coerce.number().int().positive();

// Environment variables arrive as strings.
const flag = z.union([z.boolean(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'boolean') return value;
  const text = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be true or false (got "${value}")` });
  return z.NEVER;
});

const paymentTimeouts = z
  .union([z.string(), z.record(z.unknown())])
  .transform((value, ctx) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `is not JSON: ${value}` });
      return z.NEVER;
    }
  })
  .pipe(z.record(duration))
  .refine((r) => r.default !== undefined, 'needs a "default" window, e.g. {"default":"15m"}')
  .transform((r) => r as PaymentTimeouts);

const delayLevels = z.string().transform((value, ctx) => {
  try {
    return parseDelayLevels(value);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    return z.NEVER;
  }
});

// Every section is strict: a key the service does not know (a typo such as `closer.prefetchh`) stops start-up
// instead of being silently ignored.
const section = <T extends z.ZodRawShape>(shape: T) => z.object(shape).strict();

const schema = section({
  http: section({
    port: z.coerce.number().int().min(0).max(65535),
    bodyLimit: z.string(),
    requestTimeout: duration,
    headersTimeout: duration,
  })
    .refine((h) => h.requestTimeout > 0 && h.headersTimeout > 0, {
      message: 'must be more than 0',
      path: ['requestTimeout'],
    })
    .refine((h) => h.headersTimeout <= h.requestTimeout, {
      message: 'must be at most http.requestTimeout',
      path: ['headersTimeout'],
    }),
  amqp: section({
    url: z.string().regex(/^amqps?:\/\//, 'must start with amqp:// or amqps://'),
    heartbeat: duration,
    publishTimeout: duration,
    managementUrl: z.string().regex(/^https?:\/\//, 'must start with http:// or https://'),
  }),
  mysql: section({
    url: z.string().regex(/^mysql:\/\//, 'must start with mysql://'),
    poolSize: positiveInt,
    migrateOnStart: flag,
  }),
  delayLevels,
  orderPaymentTimeouts: paymentTimeouts,
  closer: section({
    prefetch: positiveInt,
    batchSize: positiveInt,
    concurrency: positiveInt,
    maxAttempts: positiveInt,
    deliveryLimit: positiveInt,
  }),
  outbox: section({ relayInterval: duration, claimFor: duration, batchSize: positiveInt, retainSent: duration }),
  idempotency: section({ retention: duration }),
  retention: section({ interval: duration, batchSize: positiveInt }),
  sweeper: section({ interval: duration, grace: duration, batchSize: positiveInt }),
  shutdown: section({ readinessDelay: durationOrZero, timeout: duration }).refine((s) => s.readinessDelay < s.timeout, {
    message: 'must be less than shutdown.timeout',
    path: ['readinessDelay'],
  }),
  log: section({ level: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']) }),
  payments: section({
    webhookSecret: z.string(),
    latePaymentPolicy: z.enum(['revive', 'refund'], { message: 'must be revive or refund' }),
  }),
});

export class ConfigError extends Error {}

const BODY_LIMIT = /^(\d+)\s*(b|kb|mb)$/i;
function parseBytes(text: string): number {
  const match = BODY_LIMIT.exec(text.trim());
  if (!match) throw new ConfigError(`Invalid configuration: http.bodyLimit: "${text}" is not a size like 100kb`);
  const factor = { b: 1, kb: 1024, mb: 1024 * 1024 }[match[2]!.toLowerCase() as 'b' | 'kb' | 'mb'];
  return Number(match[1]) * factor;
}

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]']);

/** Whether a URL host is this machine: `localhost`, 127.0.0.0/8 or ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return LOOPBACK_HOSTS.has(host) || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Production refuses RabbitMQ's `guest` account (also what an URL without a user logs in as) on a broker
 * that is not on this machine: guest is a well-known password, and RabbitMQ itself only lets it in over
 * loopback, so such a configuration is a mistake.
 */
function checkProductionBroker(url: string, nodeEnv: string | undefined): void {
  if (nodeEnv !== 'production') return;
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username);
  if ((user === '' || user === 'guest') && !isLoopbackHost(parsed.hostname)) {
    throw new ConfigError(
      `Invalid configuration:\n  amqp.url (AMQP_URL): the ${user === '' ? 'default (guest)' : 'guest'} user is refused in production on a broker that is not on this machine (${parsed.hostname}); give the service its own RabbitMQ user`,
    );
  }
}

/** Production takes payment notifications only when signed: anyone could otherwise mark an order paid. */
function checkProductionPayments(secret: string, nodeEnv: string | undefined): void {
  if (nodeEnv !== 'production' || secret.trim() !== '') return;
  throw new ConfigError(
    'Invalid configuration:\n  payments.webhookSecret (PAYMENT_WEBHOOK_SECRET): required in production: the shared secret that signs payment notifications',
  );
}

/**
 * Validates raw configuration (node-config's merged object); throws a ConfigError naming each bad key.
 * `nodeEnv` (default `NODE_ENV`) turns on the production-only checks.
 */
export function parseConfig(raw: unknown, nodeEnv: string | undefined = process.env.NODE_ENV): AppConfig {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(top level)';
      const top = issue.path[0] === 'orderPaymentTimeouts' ? 'orderPaymentTimeouts' : key;
      const env = ENV_NAMES[key] ?? ENV_NAMES[top];
      return `  ${key}${env ? ` (${env})` : ''}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  checkProductionBroker(result.data.amqp.url, nodeEnv);
  checkProductionPayments(result.data.payments.webhookSecret, nodeEnv);
  return { ...result.data, http: { ...result.data.http, bodyLimit: parseBytes(result.data.http.bodyLimit) } };
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | T[K] : T[K] };
/** Raw overrides as they would appear in a config file (durations may be strings). */
export type ConfigOverrides = DeepPartial<Record<string, unknown>>;

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object'
        ? merge(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

/** Loads `config/` (node-config layout, env vars included), applies overrides, validates. */
export function loadConfig(overrides: ConfigOverrides = {}): AppConfig {
  process.env.NODE_CONFIG_DIR ??= path.join(__dirname, '..', 'config');
  process.env.SUPPRESS_NO_CONFIG_WARNING = 'y';
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeConfig = require('config') as { util: { toObject(o?: unknown): Record<string, unknown> } };
  const raw = nodeConfig.util.toObject();
  return parseConfig(merge(raw, overrides));
}

/** A URL with its password replaced, fit for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}
