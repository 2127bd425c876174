import path from 'node:path';
import defaults from '../../config/default.json';
import { ConfigError, parseConfig, redactUrl, type AppConfig } from '../../src/config';

/** The raw default config with some keys replaced, as node-config would hand it over. */
function raw(
  over: Record<string, unknown> = {},
  nested: Record<string, Record<string, unknown>> = {},
): Record<string, unknown> {
  const base = JSON.parse(JSON.stringify(defaults)) as Record<string, Record<string, unknown>>;
  for (const [section, values] of Object.entries(nested)) base[section] = { ...base[section], ...values };
  return { ...base, ...over };
}

function configError(input: unknown): ConfigError {
  try {
    parseConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw new Error(`expected a ConfigError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected parseConfig to throw');
}

describe('parseConfig', () => {
  it('when the backlog drain and the closer batches would take every background connection, then start-up stops naming the pool', () => {
    expect(configError(raw({}, { mysql: { backgroundPoolSize: 7 } })).message).toContain(
      'mysql.backgroundPoolSize (MYSQL_BACKGROUND_POOL_SIZE): must be more than closer.drainLanes + closer.concurrency (7)',
    );
    const small = parseConfig(raw({}, { mysql: { backgroundPoolSize: 2 }, closer: { drainLanes: 0, concurrency: 1 } }));
    expect(small.closer.drainLanes).toBe(0);
  });

  it('when SERVICE_ROLES names roles, then the process runs those; unknown, none or one twice stop start-up naming the key', () => {
    expect(parseConfig(raw()).roles).toEqual(['api', 'closer']);
    expect(parseConfig(raw({ roles: ' closer , api ' })).roles).toEqual(['closer', 'api']);
    expect(parseConfig(raw({ roles: 'api' })).roles).toEqual(['api']);
    for (const [roles, message] of [
      ['worker', 'roles (SERVICE_ROLES): unknown role "worker" (known: api, closer)'],
      [' , ', 'roles (SERVICE_ROLES): names no role'],
      ['api,api', 'roles (SERVICE_ROLES): names a role twice'],
    ])
      expect(configError(raw({ roles })).message).toContain(message);
  });

  it('when given the shipped defaults, then it parses durations to milliseconds and the body limit to bytes', () => {
    const config = parseConfig(raw());
    expect(config.http).toEqual({
      port: 3000,
      bodyLimit: 100 * 1024,
      requestTimeout: 30_000,
      headersTimeout: 10_000,
      maxInFlight: 64,
      maxQueueWait: 1_000,
    });
    expect(config.delayLevels).toHaveLength(11);
    expect(config.delayLevels[0]).toEqual({ name: '1s', ms: 1_000 });
    expect(config.orderPaymentTimeouts).toEqual({ default: 900_000, fresh: 300_000 });
    expect(config.sweeper.interval).toBe(30_000);
    expect(config.amqp.heartbeat).toBe(10_000);
    expect(config.log.level).toBe('info');
  });

  it('when values come as environment strings, then they parse', () => {
    const config = parseConfig(
      raw(
        { delayLevels: '2s, 10s,1m', orderPaymentTimeouts: '{"default":"10m","fresh":"30s"}' },
        {
          http: { port: '8080' },
          sweeper: { interval: '45s' },
          log: { level: 'debug' },
          amqp: { url: 'amqps://u:p@broker:5671/v' },
          mysql: { url: 'mysql://u:p@db:3307/shop' },
        },
      ),
    );
    expect(config.http.port).toBe(8080);
    expect(config.delayLevels.map((l) => l.ms)).toEqual([2_000, 10_000, 60_000]);
    expect(config.orderPaymentTimeouts).toEqual({ default: 600_000, fresh: 30_000 });
    expect(config.sweeper.interval).toBe(45_000);
    expect(config.log.level).toBe('debug');
    expect(config.amqp.url).toBe('amqps://u:p@broker:5671/v');
    expect(config.mysql.url).toBe('mysql://u:p@db:3307/shop');
  });

  it.each<[string, Record<string, unknown>, Record<string, Record<string, unknown>>, string, string]>([
    ['DELAY_LEVELS=5x', { delayLevels: '5x' }, {}, 'delayLevels', 'DELAY_LEVELS'],
    ['DELAY_LEVELS empty', { delayLevels: '' }, {}, 'delayLevels', 'DELAY_LEVELS'],
    ['DELAY_LEVELS with a duplicate', { delayLevels: '1s,1s' }, {}, 'delayLevels', 'DELAY_LEVELS'],
    [
      'ORDER_PAYMENT_TIMEOUTS not JSON',
      { orderPaymentTimeouts: '{default: 15m' },
      {},
      'orderPaymentTimeouts',
      'ORDER_PAYMENT_TIMEOUTS',
    ],
    [
      'ORDER_PAYMENT_TIMEOUTS with a bad window',
      { orderPaymentTimeouts: '{"default":"15m","fresh":"soon"}' },
      {},
      'orderPaymentTimeouts.fresh',
      'ORDER_PAYMENT_TIMEOUTS',
    ],
    [
      'ORDER_PAYMENT_TIMEOUTS without default',
      { orderPaymentTimeouts: '{"fresh":"5m"}' },
      {},
      'orderPaymentTimeouts',
      'ORDER_PAYMENT_TIMEOUTS',
    ],
    [
      'ORDER_PAYMENT_TIMEOUTS longer than the largest supported window',
      { orderPaymentTimeouts: '{"default":"15m","slow":"31d"}' },
      {},
      'orderPaymentTimeouts',
      'ORDER_PAYMENT_TIMEOUTS',
    ],
    ['AUTO_COMPLETE_AFTER=soon', { autoCompleteAfter: 'soon' }, {}, 'autoCompleteAfter', 'AUTO_COMPLETE_AFTER'],
    ['PAYMENT_REMINDERS not JSON', { paymentReminders: '{x' }, {}, 'paymentReminders', 'PAYMENT_REMINDERS'],
    [
      'PAYMENT_REMINDERS not shorter than the window',
      { paymentReminders: '{"default":"15m"}' },
      {},
      'paymentReminders',
      'PAYMENT_REMINDERS',
    ],
    ['HTTP_PORT=abc', {}, { http: { port: 'abc' } }, 'http.port', 'HTTP_PORT'],
    ['HTTP_PORT=70000', {}, { http: { port: '70000' } }, 'http.port', 'HTTP_PORT'],
    ['SWEEP_INTERVAL=often', {}, { sweeper: { interval: 'often' } }, 'sweeper.interval', 'SWEEP_INTERVAL'],
    ['LOG_LEVEL=loud', {}, { log: { level: 'loud' } }, 'log.level', 'LOG_LEVEL'],
    ['AMQP_URL=http://broker', {}, { amqp: { url: 'http://broker' } }, 'amqp.url', 'AMQP_URL'],
    ['MYSQL_URL=postgres://db', {}, { mysql: { url: 'postgres://db' } }, 'mysql.url', 'MYSQL_URL'],
    [
      'IDEMPOTENCY_RETENTION=forever',
      {},
      { idempotency: { retention: 'forever' } },
      'idempotency.retention',
      'IDEMPOTENCY_RETENTION',
    ],
    [
      'MYSQL_MIGRATE_ON_START=maybe',
      {},
      { mysql: { migrateOnStart: 'maybe' } },
      'mysql.migrateOnStart',
      'MYSQL_MIGRATE_ON_START',
    ],
  ])('when %s, then it throws a ConfigError naming the key and the env var', (_name, over, nested, key, env) => {
    const err = configError(raw(over, nested));
    expect(err.message).toContain('Invalid configuration');
    expect(err.message).toContain(`${key} (${env})`);
  });

  it('when a key without an env var is bad, then the message names the key', () => {
    const err = configError(raw({}, { closer: { prefetch: 0 } }));
    expect(err.message).toMatch(/closer\.prefetch: /);
  });

  it('when several keys are bad, then each is named', () => {
    const err = configError(raw({ delayLevels: '5x' }, { http: { port: 'abc' } }));
    expect(err.message).toContain('delayLevels (DELAY_LEVELS)');
    expect(err.message).toContain('http.port (HTTP_PORT)');
  });

  it('when the body limit is not a size, then it throws a ConfigError naming http.bodyLimit', () => {
    const err = configError(raw({}, { http: { bodyLimit: 'lots' } }));
    expect(err.message).toContain('http.bodyLimit');
  });

  it('when a section holds a key the service does not know (a typo), then it throws a ConfigError naming the key', () => {
    const err = configError(raw({}, { closer: { prefetchh: 10 } }));
    expect(err.message).toMatch(/closer: .*prefetchh/);
  });

  it('when the http section holds an unknown key, then it throws a ConfigError naming it', () => {
    expect(configError(raw({}, { http: { bodylimit: '1mb' } })).message).toMatch(/http: .*bodylimit/);
  });

  it('when a duration in a config file is a number that is not positive, then it throws a ConfigError naming the key', () => {
    expect(configError(raw({}, { sweeper: { interval: 0 } })).message).toMatch(/sweeper\.interval.*positive/);
    expect(configError(raw({}, { retention: { interval: -5 } })).message).toMatch(/retention\.interval.*positive/);
  });

  it('when the top level holds an unknown section, then it throws a ConfigError naming it', () => {
    const err = configError(raw({ sweepr: { interval: '1s' } }));
    expect(err.message).toMatch(/\(top level\): .*sweepr/);
  });

  it('when the readiness delay is not shorter than the shutdown timeout, then it throws a ConfigError naming both', () => {
    const err = configError(raw({}, { shutdown: { readinessDelay: '20s', timeout: '20s' } }));
    expect(err.message).toContain(
      'shutdown.readinessDelay (SHUTDOWN_READINESS_DELAY): must be less than shutdown.timeout',
    );
  });

  it('when a whole section is missing, then it throws a ConfigError naming it', () => {
    const input = raw();
    delete input.sweeper;
    expect(configError(input).message).toContain('sweeper');
  });
});

describe('loadConfig with environment variables', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  function loadWithEnv(env: Record<string, string>): AppConfig {
    Object.assign(process.env, env, { NODE_CONFIG_DIR: path.join(__dirname, '..', '..', 'config') });
    let config: AppConfig | undefined;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require('../../src/config') as typeof import('../../src/config');
      config = mod.loadConfig();
    });
    return config!;
  }

  it('when the contract env vars are set to good values, then the loaded config uses them', () => {
    const config = loadWithEnv({
      HTTP_PORT: '4123',
      DELAY_LEVELS: '1s,3s',
      ORDER_PAYMENT_TIMEOUTS: '{"default":"20m","fresh":"2m"}',
      SWEEP_INTERVAL: '7s',
      LOG_LEVEL: 'warn',
      MYSQL_URL: 'mysql://root@127.0.0.1:3306/from_env',
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672/from-env',
    });
    expect(config.http.port).toBe(4123);
    expect(config.delayLevels.map((l) => l.name)).toEqual(['1s', '3s']);
    expect(config.orderPaymentTimeouts).toEqual({ default: 1_200_000, fresh: 120_000 });
    expect(config.sweeper.interval).toBe(7_000);
    expect(config.log.level).toBe('warn');
    expect(config.mysql.url).toBe('mysql://root@127.0.0.1:3306/from_env');
    expect(config.amqp.url).toBe('amqp://guest:guest@127.0.0.1:5672/from-env');
  });

  it('when MYSQL_MIGRATE_ON_START is unset, then migrations run on start; when it is false or 0, they do not', () => {
    expect(loadWithEnv({}).mysql.migrateOnStart).toBe(true);
    expect(loadWithEnv({ MYSQL_MIGRATE_ON_START: 'false' }).mysql.migrateOnStart).toBe(false);
    expect(loadWithEnv({ MYSQL_MIGRATE_ON_START: '0' }).mysql.migrateOnStart).toBe(false);
    expect(loadWithEnv({ MYSQL_MIGRATE_ON_START: 'TRUE' }).mysql.migrateOnStart).toBe(true);
  });

  it('when DELAY_LEVELS=5x is in the environment, then loading throws a ConfigError naming the key and the env var', () => {
    let thrown: unknown;
    try {
      loadWithEnv({ DELAY_LEVELS: '5x' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).constructor.name).toBe('ConfigError');
    expect((thrown as Error).message).toContain('delayLevels (DELAY_LEVELS)');
    expect((thrown as Error).message).toContain('5x');
  });
});

describe('redactUrl', () => {
  it('when the URL has a password, then it is hidden', () => {
    const out = redactUrl('amqp://user:s3cret@host:5672/v');
    expect(out).not.toContain('s3cret');
    expect(out).toContain('user');
  });

  it('when webhook URLs are set but order events are off, then it names ORDER_EVENTS (the webhooks would get nothing)', () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    expect(() =>
      parseConfig(raw({}, { webhooks: { urls: 'http://127.0.0.1:9/hook', secret }, events: { enabled: false } })),
    ).toThrow(/events\.enabled \(ORDER_EVENTS\): must be true when WEBHOOK_URLS is set/);
  });
});
