import path from 'node:path';
import { z } from 'zod';
import { parseDelayLevels, type DelayLevel } from './domain/delay-plan';
import { parseDuration } from './domain/duration';
import type { PaymentTimeouts } from './domain/payment-window';
import { webhookSecretProblem } from './webhooks/signing';
import { checkPolicy, policyText, type Policy } from './domain/policy';
import { redactUrl, splitUrlList, urlListProblems } from './broker-urls';

export { redactUrl } from './broker-urls';

/**
 * What a process runs. `api`: the HTTP API (orders, payments, admin). `closer`: everything that fires timers and
 * delivers: the timeout closer, the sweeper, webhook deliveries and retention. Both publish their outbox rows, serve
 * /healthz, /readyz and /metrics, and follow the policy.
 */
export const SERVICE_ROLES = ['api', 'closer'] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

/** Validated service configuration; every duration is in milliseconds. */
export interface AppConfig {
  /**
   * The roles this process runs (`SERVICE_ROLES`, comma-separated; default `api,closer`: everything in one process,
   * as `npm start` always did). A fleet runs API-only processes behind its load balancer and a few closer-only ones.
   */
  roles: ServiceRole[];
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
    /** API requests served at once (`HTTP_MAX_IN_FLIGHT`, default 64); up to 16 times as many more may wait in line. */
    maxInFlight: number;
    /** Longest a request waits in line before 503 `overloaded` with `Retry-After` (`HTTP_MAX_QUEUE_WAIT`, default 1s). */
    maxQueueWait: number;
  };
  amqp: {
    /**
     * Broker URL (`AMQP_URL`), or the comma-separated URLs of the nodes of one cluster; may carry credentials, so
     * never log it as is.
     */
    url: string;
    /** `url` split into its nodes' URLs, in the order given (derived, not a configuration key). */
    urls: string[];
    /**
     * `x-quorum-initial-group-size` declared on every quorum queue (`AMQP_QUORUM_INITIAL_GROUP_SIZE`, default 0:
     * not declared, RabbitMQ's default applies). Part of a queue's identity: changing it on existing queues is a
     * migration (docs/cluster.md).
     */
    quorumInitialGroupSize: number;
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
    /** Connections in the pool of the HTTP API (`MYSQL_POOL_SIZE`, default 10). */
    poolSize: number;
    /**
     * Connections of the closer, sweeper, outbox relay and retention job (`MYSQL_BACKGROUND_POOL_SIZE`, default 12):
     * a pool of their own, so timeouts close on time however busy HTTP is. More than `closer.drainLanes` +
     * `closer.concurrency`, so a backlog drain leaves connections to the relay, the sweeper and `/readyz`.
     */
    backgroundPoolSize: number;
    /** Apply pending migrations at start-up (`MYSQL_MIGRATE_ON_START`, default true); when false, a schema behind stops start-up. */
    migrateOnStart: boolean;
  };
  /** Delay levels, ascending (`DELAY_LEVELS`). */
  delayLevels: DelayLevel[];
  /** Payment window per category (`ORDER_PAYMENT_TIMEOUTS`): the seed of the policy's windows (version 1). */
  orderPaymentTimeouts: PaymentTimeouts;
  /** Payment reminder per category, time before the deadline (`PAYMENT_REMINDERS`, default none): the policy's seed. */
  paymentReminders: Record<string, number>;
  /** How long after shipping an order completes by itself (`AUTO_COMPLETE_AFTER`, default 7d): the policy's seed. */
  autoCompleteAfter: number;
  admin: {
    /**
     * Bearer token of the admin routes (`ADMIN_TOKEN`), compared in constant time; empty: the admin routes answer
     * 401 to everyone. Required in production; never logged.
     */
    token: string;
  };
  policy: {
    /** How often each process looks for a newer policy version in the database (default 1s; at most 5s). */
    pollInterval: number;
  };
  closer: {
    /** Unacknowledged timeout messages held at once (default 500). */
    prefetch: number;
    /** Most orders closed in one transaction (default 200). */
    batchSize: number;
    /** Closing transactions run at once (default 3). */
    concurrency: number;
    /**
     * Under a backlog (a whole batch of timers waiting for a transaction), transactions that fire the oldest due
     * timers straight from the database at once (default 4; 0: never, the messages alone fire them).
     */
    drainLanes: number;
    /** Most timers fired in one of those backlog transactions (default 500). */
    drainBatchSize: number;
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
  webhooks: {
    /** Where every event is POSTed (`WEBHOOK_URLS`, comma-separated http(s) URLs); empty, no webhooks. */
    urls: string[];
    /** Standard Webhooks signing key (`WEBHOOK_SECRET`, `whsec_<base64>`); required with `urls`; never logged. */
    secret: string;
    /** Longest one delivery attempt may take, connecting included (`WEBHOOK_TIMEOUT`, default 15s). */
    timeout: number;
    /** How long after its first attempt a delivery is retried before it is parked (`WEBHOOK_MAX_AGE`, default 24h). */
    maxAge: number;
    /** Deliveries in flight at once per URL (default 4): also that URL's queue prefetch. */
    concurrency: number;
  };
  events: {
    /**
     * Publish order events to `order.events` (`ORDER_EVENTS`, default true): every transition writes its event row in
     * the outbox. Off: none are written (a shop with no consumers saves the writes); nothing is published for the
     * time it was off.
     */
    enabled: boolean;
  };
}

/** Which environment variable feeds which key, so errors can name both. */
const ENV_NAMES: Record<string, string> = {
  roles: 'SERVICE_ROLES',
  'http.port': 'HTTP_PORT',
  'http.requestTimeout': 'HTTP_REQUEST_TIMEOUT',
  'http.headersTimeout': 'HTTP_HEADERS_TIMEOUT',
  'http.maxInFlight': 'HTTP_MAX_IN_FLIGHT',
  'http.maxQueueWait': 'HTTP_MAX_QUEUE_WAIT',
  'amqp.url': 'AMQP_URL',
  'amqp.managementUrl': 'RABBITMQ_MANAGEMENT_URL',
  'amqp.quorumInitialGroupSize': 'AMQP_QUORUM_INITIAL_GROUP_SIZE',
  'mysql.url': 'MYSQL_URL',
  'mysql.migrateOnStart': 'MYSQL_MIGRATE_ON_START',
  'mysql.poolSize': 'MYSQL_POOL_SIZE',
  'mysql.backgroundPoolSize': 'MYSQL_BACKGROUND_POOL_SIZE',
  delayLevels: 'DELAY_LEVELS',
  orderPaymentTimeouts: 'ORDER_PAYMENT_TIMEOUTS',
  paymentReminders: 'PAYMENT_REMINDERS',
  autoCompleteAfter: 'AUTO_COMPLETE_AFTER',
  'admin.token': 'ADMIN_TOKEN',
  'sweeper.interval': 'SWEEP_INTERVAL',
  'idempotency.retention': 'IDEMPOTENCY_RETENTION',
  'shutdown.readinessDelay': 'SHUTDOWN_READINESS_DELAY',
  'shutdown.timeout': 'SHUTDOWN_TIMEOUT',
  'log.level': 'LOG_LEVEL',
  'payments.webhookSecret': 'PAYMENT_WEBHOOK_SECRET',
  'payments.latePaymentPolicy': 'LATE_PAYMENT_POLICY',
  'webhooks.urls': 'WEBHOOK_URLS',
  'webhooks.secret': 'WEBHOOK_SECRET',
  'webhooks.timeout': 'WEBHOOK_TIMEOUT',
  'webhooks.maxAge': 'WEBHOOK_MAX_AGE',
  'events.enabled': 'ORDER_EVENTS',
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

/** Durations per category, as an object or (from the environment) JSON text. */
const durationsByCategory = z
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
  .pipe(z.record(duration));

const paymentTimeouts = durationsByCategory
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

// A list in a file, or comma-separated text from the environment.
const webhookUrls = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (typeof value === 'string' ? value.split(',') : value).map((u) => u.trim()).filter(Boolean))
  .superRefine((urls, ctx) => {
    for (const problem of webhookUrlProblems(urls)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });

// A list in a file, or comma-separated text from the environment: known roles, each once, at least one.
const roles = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (typeof value === 'string' ? value.split(',') : value).map((r) => r.trim()).filter(Boolean))
  .superRefine((list, ctx) => {
    const problem = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message });
    if (list.length === 0) problem(`names no role (use ${SERVICE_ROLES.join(', ')} or both)`);
    for (const role of list)
      if (!(SERVICE_ROLES as readonly string[]).includes(role))
        problem(`unknown role "${role}" (known: ${SERVICE_ROLES.join(', ')})`);
    if (new Set(list).size !== list.length) problem('names a role twice');
  })
  .transform((list) => list as ServiceRole[]);

// Every section is strict: a key the service does not know (a typo such as `closer.prefetchh`) stops start-up
// instead of being silently ignored.
const section = <T extends z.ZodRawShape>(shape: T) => z.object(shape).strict();

const schema = section({
  roles,
  http: section({
    port: z.coerce.number().int().min(0).max(65535),
    bodyLimit: z.string(),
    requestTimeout: duration,
    headersTimeout: duration,
    maxInFlight: positiveInt,
    maxQueueWait: duration,
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
    url: z.string().superRefine((value, ctx) => {
      for (const message of urlListProblems(value)) ctx.addIssue({ code: z.ZodIssueCode.custom, message });
    }),
    heartbeat: duration,
    publishTimeout: duration,
    managementUrl: z.string().regex(/^https?:\/\//, 'must start with http:// or https://'),
    quorumInitialGroupSize: z.coerce.number().int().min(0),
  }),
  mysql: section({
    url: z.string().regex(/^mysql:\/\//, 'must start with mysql://'),
    poolSize: positiveInt,
    backgroundPoolSize: positiveInt,
    migrateOnStart: flag,
  }),
  delayLevels,
  orderPaymentTimeouts: paymentTimeouts,
  paymentReminders: durationsByCategory,
  autoCompleteAfter: duration,
  admin: section({ token: z.string() }),
  policy: section({ pollInterval: duration }).refine((p) => p.pollInterval <= 5_000, {
    message: 'must be at most 5s: a policy change reaches every process within 5 s',
    path: ['pollInterval'],
  }),
  closer: section({
    prefetch: positiveInt,
    batchSize: positiveInt,
    concurrency: positiveInt,
    drainLanes: z.coerce.number().int().min(0),
    drainBatchSize: positiveInt,
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
  webhooks: section({
    urls: webhookUrls,
    // Checked after the sections (checkWebhookSecret): whether it is needed depends on urls, and its value must
    // never reach an error message.
    secret: z.string(),
    timeout: duration,
    maxAge: duration,
    concurrency: positiveInt,
  }),
  events: section({ enabled: flag }),
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
function checkProductionBroker(urls: readonly string[], nodeEnv: string | undefined): void {
  if (nodeEnv !== 'production') return;
  for (const url of urls) {
    const parsed = new URL(url);
    const user = decodeURIComponent(parsed.username);
    if ((user === '' || user === 'guest') && !isLoopbackHost(parsed.hostname)) {
      throw new ConfigError(
        `Invalid configuration:\n  amqp.url (AMQP_URL): the ${user === '' ? 'default (guest)' : 'guest'} user is refused in production on a broker that is not on this machine (${parsed.hostname}); give the service its own RabbitMQ user`,
      );
    }
  }
}

/** Production takes payment notifications only when signed: anyone could otherwise mark an order paid. */
function checkProductionPayments(secret: string, nodeEnv: string | undefined): void {
  if (nodeEnv !== 'production' || secret.trim() !== '') return;
  throw new ConfigError(
    'Invalid configuration:\n  payments.webhookSecret (PAYMENT_WEBHOOK_SECRET): required in production: the shared secret that signs payment notifications',
  );
}

/** What is wrong with a list of webhook URLs: unparseable, not http(s), or twice. Never echoes a password. */
function webhookUrlProblems(urls: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [i, text] of urls.entries()) {
    let parsed: URL;
    try {
      parsed = new URL(text);
    } catch {
      // Its text is not shown: it might be a URL with a password that failed to parse.
      problems.push(`entry ${i + 1} is not a URL`);
      continue;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      problems.push(`${redactUrl(text)} must start with http:// or https://`);
    else if (seen.has(parsed.href)) problems.push(`${redactUrl(text)} is listed twice`);
    seen.add(parsed.href);
  }
  return problems;
}

/** Webhooks are always signed: URLs without a usable secret stop start-up (the message never shows the secret). */
function checkWebhookSecret(webhooks: { urls: string[]; secret: string }): void {
  const problem =
    webhooks.urls.length === 0 && webhooks.secret.trim() === '' ? undefined : webhookSecretProblem(webhooks.secret);
  if (problem) throw new ConfigError(`Invalid configuration:\n  webhooks.secret (WEBHOOK_SECRET): ${problem}`);
}

/** A backlog drain and the closer's batches must leave the relay, the sweeper and `/readyz` a connection or more. */
function checkBackgroundPool(c: {
  mysql: { backgroundPoolSize: number };
  closer: { drainLanes: number; concurrency: number };
}): void {
  const busy = c.closer.drainLanes + c.closer.concurrency;
  if (busy < c.mysql.backgroundPoolSize) return;
  throw new ConfigError(
    `Invalid configuration:\n  mysql.backgroundPoolSize (MYSQL_BACKGROUND_POOL_SIZE): must be more than closer.drainLanes + closer.concurrency (${busy}), so a backlog drain leaves connections for the outbox relay, the sweeper and /readyz`,
  );
}

/** Production protects the admin routes (they change every order's payment window) with a token. */
function checkProductionAdmin(token: string, nodeEnv: string | undefined): void {
  if (nodeEnv !== 'production' || token.trim() !== '') return;
  throw new ConfigError(
    'Invalid configuration:\n  admin.token (ADMIN_TOKEN): required in production: the bearer token of /admin/policy',
  );
}

/** The seed of the policy must be a policy the admin API would accept (limits, reminders shorter than windows). */
function checkSeedPolicy(config: AppConfig): void {
  const checked = checkPolicy(policyText(seedPolicy(config)));
  if (checked.ok) return;
  const keys: Record<string, string> = {
    paymentWindows: 'orderPaymentTimeouts (ORDER_PAYMENT_TIMEOUTS)',
    paymentReminders: 'paymentReminders (PAYMENT_REMINDERS)',
    autoCompleteAfter: 'autoCompleteAfter (AUTO_COMPLETE_AFTER)',
  };
  const lines = checked.issues.map((i) => {
    const [top, ...rest] = i.path.split('.');
    return `  ${keys[top!] ?? top}${rest.length ? ` ${rest.join('.')}` : ''}: ${i.message}`;
  });
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
}

/** The policy the configuration describes: version 1 when the database has none yet. */
export function seedPolicy(
  config: Pick<AppConfig, 'orderPaymentTimeouts' | 'paymentReminders' | 'autoCompleteAfter'>,
): Policy {
  return {
    paymentWindows: config.orderPaymentTimeouts,
    paymentReminders: config.paymentReminders,
    autoCompleteAfterMs: config.autoCompleteAfter,
  };
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
      const top = String(issue.path[0]);
      const env = ENV_NAMES[key] ?? ENV_NAMES[top];
      return `  ${key}${env ? ` (${env})` : ''}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const urls = splitUrlList(result.data.amqp.url);
  checkProductionBroker(urls, nodeEnv);
  checkProductionPayments(result.data.payments.webhookSecret, nodeEnv);
  checkWebhookSecret(result.data.webhooks);
  // Webhooks deliver what is published to order.events: with events off they would silently get nothing.
  if (result.data.webhooks.urls.length > 0 && !result.data.events.enabled)
    throw new ConfigError(
      'Invalid configuration:\n  events.enabled (ORDER_EVENTS): must be true when WEBHOOK_URLS is set: webhooks deliver the order events',
    );
  checkProductionAdmin(result.data.admin.token, nodeEnv);
  checkBackgroundPool(result.data);
  const config = {
    ...result.data,
    http: { ...result.data.http, bodyLimit: parseBytes(result.data.http.bodyLimit) },
    amqp: { ...result.data.amqp, urls },
  };
  checkSeedPolicy(config);
  return config;
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
