import defaults from '../../config/default.json';
import { ConfigError, isLoopbackHost, parseConfig } from '../../src/config';

/**
 * The raw default config with another broker URL and http section, as node-config would hand it over; with a
 * payment webhook secret and an admin token, which production requires.
 */
function raw(
  amqpUrl: string,
  http: Record<string, unknown> = {},
  webhookSecret = 'whsec-test-0123456789',
  adminToken = 'admin-test-token-0123456789',
): Record<string, unknown> {
  const base = JSON.parse(JSON.stringify(defaults)) as Record<string, Record<string, unknown>>;
  return {
    ...base,
    amqp: { ...base.amqp, url: amqpUrl },
    http: { ...base.http, ...http },
    payments: { ...base.payments, webhookSecret },
    admin: { token: adminToken },
  };
}

function thrown(fn: () => unknown): Error | undefined {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  return undefined;
}

describe('production refuses the guest user on a broker that is not on this machine', () => {
  it.each([
    ['guest on a remote host', 'amqp://guest:guest@rabbit.internal:5672/shop'],
    ['guest over TLS on a remote IP', 'amqps://guest:guest@10.0.0.7:5671'],
    ['no user at all (amqplib logs in as guest)', 'amqp://rabbit.internal'],
    ['an empty user with a password', 'amqp://:secret@rabbit.internal'],
    ['guest on an address that only looks local', 'amqp://guest:guest@128.0.0.1'],
    ['guest on a host named like localhost', 'amqp://guest:guest@localhost.example.com'],
    ['guest on an IPv6 address that is not ::1', 'amqp://guest:guest@[fe80::1]:5672'],
  ])('when NODE_ENV=production and %s, then it throws a ConfigError naming AMQP_URL', (_name, url) => {
    const err = thrown(() => parseConfig(raw(url), 'production'));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toContain('amqp.url (AMQP_URL)');
    expect(err!.message).toContain('guest');
    // The message is printed at start-up: it must not carry the password.
    expect(err!.message).not.toContain('secret');
  });

  it.each([
    ['guest on 127.0.0.1', 'amqp://guest:guest@127.0.0.1:5672'],
    ['guest anywhere in 127.0.0.0/8', 'amqp://guest:guest@127.8.9.10:5672/v'],
    ['guest on localhost', 'amqp://guest:guest@localhost'],
    ['guest on LOCALHOST.', 'amqp://guest:guest@LOCALHOST.'],
    ['guest on ::1', 'amqp://guest:guest@[::1]:5672'],
    ['no user on localhost', 'amqp://localhost'],
    ['its own user on a remote host', 'amqp://order-timeout:s3cret@rabbit.internal:5672/shop'],
    ['a user whose name merely contains guest', 'amqps://guest2:pw@rabbit.internal'],
  ])('when NODE_ENV=production and %s, then the config is accepted', (_name, url) => {
    expect(parseConfig(raw(url), 'production').amqp.url).toBe(url);
  });

  it.each([undefined, 'development', 'test'])('when NODE_ENV is %s, then guest on a remote host is accepted', (env) => {
    expect(parseConfig(raw('amqp://guest:guest@rabbit.internal'), env).amqp.url).toBe(
      'amqp://guest:guest@rabbit.internal',
    );
  });

  it('when the user is guest spelled with percent-encoding, then it is still refused', () => {
    expect(thrown(() => parseConfig(raw('amqp://%67uest:guest@rabbit.internal'), 'production'))).toBeInstanceOf(
      ConfigError,
    );
  });
});

describe('production requires the payment webhook secret', () => {
  it.each([
    ['empty', ''],
    ['blank', '   '],
  ])(
    'when NODE_ENV=production and PAYMENT_WEBHOOK_SECRET is %s, then it throws a ConfigError naming it',
    (_n, secret) => {
      const err = thrown(() => parseConfig(raw('amqp://guest:guest@127.0.0.1', {}, secret), 'production'));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err!.message).toContain('payments.webhookSecret (PAYMENT_WEBHOOK_SECRET): required in production');
    },
  );

  it.each([undefined, 'development', 'test'])('when NODE_ENV is %s, then no secret is accepted (unsigned)', (env) => {
    expect(parseConfig(raw('amqp://guest:guest@127.0.0.1', {}, ''), env).payments.webhookSecret).toBe('');
  });

  it('when the secret is set and the config is rejected for another reason, then the message does not carry it', () => {
    const err = thrown(() =>
      parseConfig(raw('amqp://guest:guest@rabbit.internal', {}, 'do-not-print-me'), 'production'),
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).not.toContain('do-not-print-me');
  });

  it.each(['', '  '])(
    'when NODE_ENV=production and ADMIN_TOKEN is "%s", then it throws a ConfigError naming it',
    (token) => {
      const err = thrown(() => parseConfig(raw('amqp://guest:guest@127.0.0.1', {}, 'secret', token), 'production'));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err!.message).toContain('admin.token (ADMIN_TOKEN): required in production');
    },
  );

  it('when NODE_ENV is not production, then no admin token is accepted (the admin routes answer 401)', () => {
    expect(parseConfig(raw('amqp://guest:guest@127.0.0.1', {}, '', ''), 'development').admin.token).toBe('');
  });

  it('when LATE_PAYMENT_POLICY is neither revive nor refund, then it throws a ConfigError naming it', () => {
    const base = raw('amqp://guest:guest@127.0.0.1');
    const err = thrown(() =>
      parseConfig({ ...base, payments: { ...(base.payments as object), latePaymentPolicy: 'keep' } }),
    );
    expect(err!.message).toContain('payments.latePaymentPolicy (LATE_PAYMENT_POLICY): must be revive or refund');
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true],
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['[::1]', true],
    ['::1', false], // URL hostnames keep the brackets
    ['10.0.0.1', false],
    ['1.127.0.0', false],
    ['rabbit', false],
  ])('%s → %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('HTTP server timeouts', () => {
  it('when given as durations, then they parse to milliseconds', () => {
    expect(
      parseConfig(raw('amqp://guest:guest@127.0.0.1', { requestTimeout: '5s', headersTimeout: '1500ms' })).http,
    ).toMatchObject({
      requestTimeout: 5_000,
      headersTimeout: 1_500,
    });
  });

  it.each([
    [
      'headersTimeout longer than requestTimeout',
      { requestTimeout: '5s', headersTimeout: '10s' },
      'http.headersTimeout',
    ],
    [
      'a requestTimeout that is not a duration',
      { requestTimeout: 'soon' },
      'http.requestTimeout (HTTP_REQUEST_TIMEOUT)',
    ],
    [
      'a zero requestTimeout (which Node reads as "never")',
      { requestTimeout: '0s', headersTimeout: '0s' },
      'http.requestTimeout',
    ],
  ])('when %s, then it throws a ConfigError naming the key', (_name, http, key) => {
    const err = thrown(() => parseConfig(raw('amqp://guest:guest@127.0.0.1', http)));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toContain(key);
  });
});
