import type { MessageProperties, MessagePropertyHeaders } from 'amqplib';
import { ConfigError, parseConfig } from '../../src/config';
import { parseDelayLevels } from '../../src/domain/delay-plan';
import { attemptBucket, planWebhookRetry, webhookSchedule } from '../../src/domain/webhook-retry';
import { structuredEvent } from '../../src/webhooks/cloud-event';
import { attemptsSoFar, targetOf } from '../../src/webhooks/delivery-headers';
import { signWebhook, webhookKey, webhookSecretProblem } from '../../src/webhooks/signing';
import { targetId, webhookTargets } from '../../src/webhooks/targets';
import defaults from '../../config/default.json';

describe('signing', () => {
  test('when signing the Standard Webhooks reference example, then the signature is the one its libraries expect', () => {
    // The test vector of the standard-webhooks libraries (and Svix's), computed independently of this code.
    const key = webhookKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(signWebhook(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toEqual({
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  test.each([
    ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', undefined],
    ['', /required/],
    ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', /must start with whsec_/],
    ['whsec_not base64!', /not base64/],
    ['whsec_c2hvcnQ=', /5 bytes; it must be 24 to 64/],
    [`whsec_${Buffer.alloc(65).toString('base64')}`, /65 bytes/],
  ])('when the secret is %j, then its problem is %s', (secret, problem) => {
    const found = webhookSecretProblem(secret);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
    if (found && secret.length > 6) expect(found).not.toContain(secret.slice(6));
  });
});

describe('retry plan', () => {
  const levels = parseDelayLevels(defaults.delayLevels);

  test('when a delivery always fails with the default levels and 24 h, then it is tried 13 times over 21 h 51 min, then parked', () => {
    const starts = webhookSchedule(levels, 24 * 3_600_000).map((ms) => ms / 1000);
    expect(starts).toEqual([0, 1, 6, 36, 96, 396, 1296, 3096, 6696, 13896, 35496, 57096, 78696]);
  });

  test('when the next wait would end past the max age, then the delivery is parked instead', () => {
    const short = parseDelayLevels('1s,2s,5s');
    expect(planWebhookRetry(1, 10, short, 4_000)).toEqual({ retry: true, level: short[0] });
    expect(planWebhookRetry(2, 1_050, short, 4_000)).toEqual({ retry: true, level: short[1] });
    // 5 s is not shorter than the max age: the largest usable level (2 s) repeats.
    expect(planWebhookRetry(3, 1_900, short, 4_000)).toEqual({ retry: true, level: short[1] });
    expect(planWebhookRetry(3, 3_050, short, 4_000)).toEqual({ retry: false });
    expect(planWebhookRetry(1, 0, short, 1_000)).toEqual({ retry: false });
  });

  test('when attempts are counted for metrics, then they fall in a few buckets', () => {
    expect([0, 1, 2, 3, 5, 6, 10, 11, 500].map(attemptBucket)).toEqual([
      '0',
      '1',
      '2',
      '3-5',
      '3-5',
      '6-10',
      '6-10',
      '11+',
      '11+',
    ]);
  });
});

describe('structured events', () => {
  const props = (headers: Record<string, unknown>) =>
    ({ headers, contentType: 'application/json' }) as unknown as MessageProperties;
  const binary = {
    cloudEvents_specversion: '1.0',
    cloudEvents_id: 'e-1',
    cloudEvents_source: 'order-timeout',
    cloudEvents_type: 'order.paid',
    cloudEvents_subject: '42',
    cloudEvents_time: '2026-11-22T10:00:00.000Z',
    cloudEvents_sequence: Buffer.from('7'),
    'x-other': 'not an attribute',
  };

  test('when a binary-mode event is read, then its attributes, extensions and data form the structured JSON', () => {
    const event = structuredEvent(props(binary), Buffer.from('{"id":"42","status":"PAID"}'));
    expect(event).toMatchObject({ ok: true, id: 'e-1', type: 'order.paid', subject: '42' });
    expect(JSON.parse((event as { body: string }).body)).toEqual({
      specversion: '1.0',
      id: 'e-1',
      source: 'order-timeout',
      type: 'order.paid',
      subject: '42',
      time: '2026-11-22T10:00:00.000Z',
      sequence: '7',
      datacontenttype: 'application/json',
      data: { id: '42', status: 'PAID' },
    });
  });

  test.each([
    [{ ...binary, cloudEvents_id: undefined }, '{}', 'invalid event: no cloudEvents_id'],
    [{ ...binary, cloudEvents_id: 'a.b' }, '{}', 'invalid event: id a.b contains a dot'],
    [binary, 'not json', 'invalid event: body is not JSON'],
  ])('when an event cannot be sent (%#), then it gets a reason instead', (headers, body, reason) => {
    expect(structuredEvent(props(headers), Buffer.from(body))).toEqual({ ok: false, reason });
  });
});

describe('targets and delivery headers', () => {
  test('when a URL carries a user, then it is sent as basic auth and shown without its password', () => {
    const [target] = webhookTargets(['https://hook:s3cret@hooks.example/in?x=1']);
    expect(target).toMatchObject({
      index: 0,
      endpoint: 'https://hooks.example/in?x=1',
      shown: 'https://hook:***@hooks.example/in?x=1',
      authorization: `Basic ${Buffer.from('hook:s3cret').toString('base64')}`,
      queue: `order.webhooks.url.${targetId('https://hook:s3cret@hooks.example/in?x=1')}`,
    });
    expect(targetId('https://a.example/x')).toMatch(/^[0-9a-f]{12}$/);
    expect(targetId('https://a.example/x')).not.toBe(targetId('https://a.example/y'));
  });

  test('when a delivery was parked by RabbitMQ itself, then its URL comes from the queue it died in', () => {
    const died = (queue: string) =>
      ({ 'x-death': [{ queue, reason: 'delivery_limit' }] }) as unknown as MessagePropertyHeaders;
    expect(targetOf({ 'x-webhook-target': 'abc' })).toBe('abc');
    expect(targetOf(died('order.webhooks.url.0123456789ab'))).toBe('0123456789ab');
    expect(targetOf(died('order.timeout'))).toBeUndefined();
    expect([
      attemptsSoFar({ 'x-webhook-attempt': 3 }),
      attemptsSoFar({}),
      attemptsSoFar({ 'x-webhook-attempt': 'x' }),
    ]).toEqual([3, 0, 0]);
  });
});

describe('configuration', () => {
  const parse = (webhooks: Record<string, unknown>) =>
    parseConfig({ ...defaults, webhooks: { ...defaults.webhooks, ...webhooks } }, 'test');
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

  test('when WEBHOOK_URLS is comma-separated text, then it becomes the list of URLs', () => {
    expect(parse({ urls: ' https://a.example/x , http://b.example:8080/y ', secret }).webhooks).toEqual({
      urls: ['https://a.example/x', 'http://b.example:8080/y'],
      secret,
      timeout: 15_000,
      maxAge: 86_400_000,
      concurrency: 4,
    });
    expect(parse({}).webhooks.urls).toEqual([]);
  });

  test.each([
    ['ftp://a.example/x', /webhooks\.urls \(WEBHOOK_URLS\): ftp:\/\/a\.example\/x must start with http/],
    ['https://a.example/x,https://a.example/x', /is listed twice/],
    ['not a url', /entry 1 is not a URL/],
    ['https://u:pw@a.example/x,nope', /entry 2 is not a URL/],
  ])('when WEBHOOK_URLS is %j, then the configuration error names the key', (urls, message) => {
    expect(() => parse({ urls, secret })).toThrow(message);
  });

  test('when a bad URL carries a password, then the error does not show it', () => {
    expect(() => parse({ urls: 'ftp://u:hunter2@a.example/x', secret })).toThrow(ConfigError);
    expect(() => parse({ urls: 'ftp://u:hunter2@a.example/x', secret })).not.toThrow(/hunter2/);
  });
});
