import { encodeTimeoutMessage, parseTimeoutMessage } from '../../src/domain/timeout-message';

const good = { orderId: '42', expiresAt: '2026-11-21T10:15:00.000Z', attempt: 0, kind: 'payment-timeout' as const };
const parse = (value: unknown) =>
  parseTimeoutMessage(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));

describe('timeout message', () => {
  it('when a message is encoded and parsed back, then it is the same message', () => {
    expect(parseTimeoutMessage(encodeTimeoutMessage(good))).toEqual({ ok: true, message: good });
  });

  it('when encoded, then the body is JSON with exactly orderId, expiresAt, attempt and kind', () => {
    expect(JSON.parse(encodeTimeoutMessage({ ...good, attempt: 3 }).toString('utf8'))).toEqual({ ...good, attempt: 3 });
  });

  // Messages published before timer kinds existed are still in the queues when a new version starts.
  it('when a message has no kind (published by an older version), then it is a payment timeout', () => {
    expect(parse({ orderId: '42', expiresAt: good.expiresAt, attempt: 0 })).toEqual({ ok: true, message: good });
  });

  it('when a message names the auto-complete kind, then it is accepted as that kind', () => {
    expect(parse({ ...good, kind: 'auto-complete' })).toEqual({
      ok: true,
      message: { ...good, kind: 'auto-complete' },
    });
  });

  it('when a message names a kind this version does not know, then it is refused with the kinds it knows', () => {
    const result = parse({ ...good, kind: 'no-such-timer' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/^kind: must be one of payment-timeout, auto-complete/);
  });

  it('when the body has extra members, then they are dropped and the message is accepted', () => {
    expect(parse({ ...good, extra: true })).toEqual({ ok: true, message: good });
  });

  it('when expiresAt carries an offset, then it is accepted', () => {
    expect(parse({ ...good, expiresAt: '2026-11-21T11:15:00.000+01:00' }).ok).toBe(true);
  });

  // What a Python (pika) publisher following the contract sends naturally: json.dumps with an int id, no attempt,
  // or a body written with the utf-8-sig codec.
  it('when orderId is a JSON number within the safe integer range, then it is accepted as that decimal id', () => {
    expect(parse({ ...good, orderId: 42 })).toEqual({ ok: true, message: good });
    expect(parse({ ...good, orderId: Number.MAX_SAFE_INTEGER })).toEqual({
      ok: true,
      message: { ...good, orderId: '9007199254740991' },
    });
  });

  it('when attempt is left out, then it counts as the first attempt (0)', () => {
    expect(parse({ orderId: '42', expiresAt: good.expiresAt })).toEqual({ ok: true, message: good });
  });

  it('when the body starts with a UTF-8 byte order mark, then the mark is ignored', () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), encodeTimeoutMessage(good)]);
    expect(parseTimeoutMessage(body)).toEqual({ ok: true, message: good });
  });

  it.each<[string, unknown, RegExp]>([
    ['not JSON', '{orderId: 1', /not JSON/],
    ['empty', '', /not JSON/],
    ['a JSON array', [good], /body/],
    ['JSON null', 'null', /body/],
    ['orderId missing', { expiresAt: good.expiresAt, attempt: 0 }, /^orderId/],
    ['orderId a fractional number', { ...good, orderId: 4.2 }, /^orderId/],
    ['orderId a number beyond 2^53', { ...good, orderId: 2 ** 53 }, /^orderId: .*as strings/],
    ['orderId a negative number', { ...good, orderId: -42 }, /^orderId/],
    ['orderId null', { ...good, orderId: null }, /^orderId/],
    ['orderId not decimal', { ...good, orderId: 'abc' }, /^orderId/],
    ['orderId zero-padded', { ...good, orderId: '042' }, /^orderId/],
    ['expiresAt not a time', { ...good, expiresAt: 'tomorrow' }, /^expiresAt/],
    ['attempt negative', { ...good, attempt: -1 }, /^attempt/],
    ['attempt fractional', { ...good, attempt: 1.5 }, /^attempt/],
    ['attempt a string', { ...good, attempt: '0' }, /^attempt/],
  ])('when the body is %s, then it is refused with a reason naming what is wrong', (_name, body, reason) => {
    const result = parse(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});
