import defaults from '../../config/default.json';
import { nodeAddress, redactUrl, redactUrlList, splitUrlList, urlListProblems, vhostOf } from '../../src/broker-urls';
import { ConfigError, parseConfig } from '../../src/config';
import { ManagementApi } from '../../src/messaging/management-api';
import { serviceTopology } from '../../src/messaging/service-topology';
import { buildTopology } from '../../src/messaging/topology';
import { parseDelayLevels } from '../../src/domain/delay-plan';

const CLUSTER =
  'amqp://svc:s3cret@rabbit-1:5672/shop, amqp://svc:s3cret@rabbit-2:5672/shop,amqp://svc:s3cret@rabbit-3/shop';

function raw(amqp: Record<string, unknown>): Record<string, unknown> {
  const base = JSON.parse(JSON.stringify(defaults)) as Record<string, Record<string, unknown>>;
  return {
    ...base,
    amqp: { ...base.amqp, ...amqp },
    payments: { ...base.payments, webhookSecret: 'whsec-0123456789' },
    admin: { ...base.admin, token: 'admin-token-for-tests' },
  };
}

const configError = (value: Record<string, unknown>, env?: string): string => {
  try {
    parseConfig(raw(value), env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('AMQP_URL lists', () => {
  it('when AMQP_URL names three nodes with spaces and a trailing comma, then they are split in order', () => {
    expect(splitUrlList(`${CLUSTER},`)).toEqual([
      'amqp://svc:s3cret@rabbit-1:5672/shop',
      'amqp://svc:s3cret@rabbit-2:5672/shop',
      'amqp://svc:s3cret@rabbit-3/shop',
    ]);
    expect(splitUrlList('amqp://a')).toEqual(['amqp://a']);
  });

  it('when a list is redacted, then no password remains and every node is still named', () => {
    const text = redactUrlList(CLUSTER);
    expect(text).not.toContain('s3cret');
    expect(text).toBe(
      'amqp://svc:***@rabbit-1:5672/shop,amqp://svc:***@rabbit-2:5672/shop,amqp://svc:***@rabbit-3/shop',
    );
    expect(redactUrl('not a url')).toBe('<unparseable url>');
  });

  it('when a node is named for the logs, then it is host:port, with the protocol default port', () => {
    expect(nodeAddress('amqp://u:p@rabbit-1/v')).toBe('rabbit-1:5672');
    expect(nodeAddress('amqps://u:p@rabbit-2/v')).toBe('rabbit-2:5671');
    expect(nodeAddress('amqp://u:p@127.0.0.1:5681')).toBe('127.0.0.1:5681');
  });

  it('when the vhost of a list is asked, then it is the first node’s (decoded), / when none', () => {
    expect(vhostOf(CLUSTER)).toBe('shop');
    expect(vhostOf('amqp://a:5672/a%2Fb,amqp://b/a%2Fb')).toBe('a/b');
    expect(vhostOf('amqp://a')).toBe('/');
  });

  it.each([
    ['an entry that is not amqp', 'amqp://a,http://b', 'entry 2 (http://b/) must start with amqp:// or amqps://'],
    ['an entry that does not parse', 'amqp://a,amqp://b:99999', 'is not a valid URL'],
    ['nothing but commas', ' , ', 'names no broker'],
    ['nodes on different vhosts', 'amqp://u@a/x,amqp://u@b/y', 'every node must use the same user and vhost'],
    ['nodes with different users', 'amqp://u@a/x,amqp://v@b/x', 'every node must use the same user and vhost'],
  ])('when AMQP_URL has %s, then the configuration is refused naming AMQP_URL', (_name, url, message) => {
    expect(urlListProblems(url).join('\n')).toContain(message);
    const err = configError({ url });
    expect(err).toContain('amqp.url (AMQP_URL)');
    expect(err).toContain(message);
  });

  it('when a valid list is configured, then the config carries it as given and split into urls', () => {
    const config = parseConfig(raw({ url: CLUSTER }), 'production');
    expect(config.amqp.url).toBe(CLUSTER);
    expect(config.amqp.urls).toHaveLength(3);
  });

  it('when one node of a production list would log in as guest remotely, then the list is refused', () => {
    expect(
      configError({ url: 'amqp://guest:guest@127.0.0.1:5672,amqp://guest:guest@rabbit-2' }, 'production'),
    ).toContain('the guest user is refused in production on a broker that is not on this machine (rabbit-2)');
  });

  it('when the management API client is given a list, then it logs in with the first node’s credentials', async () => {
    let auth = '';
    const server = await import('node:http').then(({ createServer }) =>
      createServer((req, res) => {
        auth = req.headers.authorization ?? '';
        res.end('{}');
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      await new ManagementApi(`http://127.0.0.1:${port}`, CLUSTER).get('/overview');
    } finally {
      server.close();
    }
    expect(Buffer.from(auth.replace('Basic ', ''), 'base64').toString()).toBe('svc:s3cret');
  });
});

describe('quorum initial group size', () => {
  const levels = parseDelayLevels('1s,5s');
  const quorumQueues = (size?: number) =>
    buildTopology({ levels, deliveryLimit: 5, quorumInitialGroupSize: size }).queues.map(
      (q) => q.arguments['x-quorum-initial-group-size'],
    );

  it('when it is not configured (0), then no queue declares it, so existing queues stay equivalent', () => {
    expect(new Set(quorumQueues(0))).toEqual(new Set([undefined]));
    expect(new Set(quorumQueues(undefined))).toEqual(new Set([undefined]));
  });

  it('when it is configured, then every quorum queue declares it', () => {
    expect(new Set(quorumQueues(3))).toEqual(new Set([3]));
    const config = parseConfig(raw({ quorumInitialGroupSize: '5' }));
    expect(config.amqp.quorumInitialGroupSize).toBe(5);
    expect(serviceTopology(config).queues.every((q) => q.arguments['x-quorum-initial-group-size'] === 5)).toBe(true);
  });

  it('when it is negative or not a whole number, then the configuration is refused', () => {
    expect(configError({ quorumInitialGroupSize: -1 })).toContain(
      'amqp.quorumInitialGroupSize (AMQP_QUORUM_INITIAL_GROUP_SIZE)',
    );
    expect(configError({ quorumInitialGroupSize: 'three' })).toContain('amqp.quorumInitialGroupSize');
  });
});
