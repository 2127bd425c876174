import type { GetMessage } from 'amqplib';
import amqp from 'amqplib';
import { PARKED_QUEUE, TIMEOUT_EXCHANGE, TIMEOUT_QUEUE, TIMEOUT_ROUTING_KEY } from '../../src/messaging/topology';
import { publishRaw, queueDepth, withChannel } from '../support/amqp';
import { runCli, spawnCli } from '../support/cli';
import { messageIds, parkMessages, peekAll, takeAll, topologyVhost, type ParkedSpec } from '../support/parked';
import { eventually } from '../support/scratch';

const REASONS = [
  'database unavailable: ER_LOCK_WAIT_TIMEOUT',
  'order not found',
  'malformed body: attempt is not a number',
  'closer crashed',
];

/** 100 parked messages, reasons taking turns; ids and order ids tell them apart. */
const hundred = (prefix: string): ParkedSpec[] =>
  Array.from({ length: 100 }, (_, i) => ({
    messageId: `${prefix}-msg-${i}`,
    orderId: `${1000 + i}`,
    reason: REASONS[i % REASONS.length]!,
    attempt: 3,
  }));

const bodyOf = (m: GetMessage) =>
  JSON.parse(m.content.toString('utf8')) as { orderId: string; expiresAt: string; attempt: number };

const vhosts: { destroy(): Promise<void> }[] = [];
async function freshVhost() {
  const v = await topologyVhost();
  vhosts.push(v);
  return v;
}
afterAll(async () => {
  await Promise.all(vhosts.map((v) => v.destroy()));
});

interface ListJson {
  queue: string;
  total: number;
  shown: number;
  messages: {
    messageId: string;
    orderId: string | null;
    reason: string | null;
    attempts: number | null;
    parkedAt: string | null;
    firstDeath: { queue: string; reason: string } | null;
    replays: number;
  }[];
}

describe('dead-letters list', () => {
  test('when 100 messages are parked with several reasons, then list --json shows all of them and they stay parked, in the same order', async () => {
    const { url } = await freshVhost();
    const specs = hundred('list');
    await parkMessages(url, specs);

    const first = await runCli(['dead-letters', 'list', '--json'], { AMQP_URL: url });
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
    const listed = JSON.parse(first.stdout) as ListJson;
    expect(listed).toMatchObject({ queue: PARKED_QUEUE, total: 100, shown: 100 });
    expect(listed.messages.map((m) => m.messageId)).toEqual(specs.map((s) => s.messageId));
    expect(listed.messages.map((m) => [m.orderId, m.reason, m.attempts])).toEqual(
      specs.map((s) => [s.orderId, s.reason, 3]),
    );
    expect(listed.messages.every((m) => m.parkedAt !== null && m.firstDeath === null && m.replays === 0)).toBe(true);

    // Nothing was taken away, and a second listing shows the same messages in the same order.
    expect(await queueDepth(url, PARKED_QUEUE)).toBe(100);
    const second = await runCli(['dead-letters', 'list', '--json'], { AMQP_URL: url });
    expect(second.code).toBe(0);
    expect((JSON.parse(second.stdout) as ListJson).messages.map((m) => m.messageId)).toEqual(
      specs.map((s) => s.messageId),
    );
    expect(messageIds(await peekAll(url, PARKED_QUEUE))).toEqual(specs.map((s) => s.messageId));
    expect(await queueDepth(url, TIMEOUT_QUEUE)).toBe(0);
  });

  test('when listing with --limit, then only that many are shown, the total is reported and all stay parked', async () => {
    const { url } = await freshVhost();
    const specs = hundred('limit');
    await parkMessages(url, specs);

    const res = await runCli(['dead-letters', 'list', '--json', '--limit', '10'], { AMQP_URL: url });
    expect(res.code).toBe(0);
    const listed = JSON.parse(res.stdout) as ListJson;
    expect(listed).toMatchObject({ total: 100, shown: 10 });
    expect(listed.messages.map((m) => m.messageId)).toEqual(specs.slice(0, 10).map((s) => s.messageId));
    expect(messageIds(await peekAll(url, PARKED_QUEUE))).toEqual(specs.map((s) => s.messageId));
  });

  test('when listing as a table, then each parked message is a row with its order id, reason and message id', async () => {
    const { url } = await freshVhost();
    const specs = hundred('table').slice(0, 4);
    await parkMessages(url, specs);

    const res = await runCli(['dead-letters', 'list'], { AMQP_URL: url });
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^orderId\s+reason\s+attempts\s+parkedAt\s+firstDeath\s+messageId$/);
    for (const s of specs)
      expect(lines.find((l) => l.includes(s.messageId))).toEqual(expect.stringContaining(s.reason));
    expect(lines[lines.length - 1]).toBe(`4 of 4 message(s) in ${PARKED_QUEUE}`);
    expect(await queueDepth(url, PARKED_QUEUE)).toBe(4);
  });

  test('when RabbitMQ itself dead-lettered a message past the delivery limit, then it is listed with its first death queue and reason', async () => {
    const { url } = await freshVhost();
    await publishRaw(
      url,
      TIMEOUT_EXCHANGE,
      TIMEOUT_ROUTING_KEY,
      JSON.stringify({ orderId: '4242', expiresAt: '2026-01-01T00:00:00.000Z', attempt: 1 }),
      {
        messageId: 'poison-1',
        contentType: 'application/json',
      },
    );
    // Reject it with requeue until the quorum queue's delivery limit (5) sends it on to the parked queue.
    await withChannel(url, async (ch) => {
      for (let i = 0; i < 20; i++) {
        const msg = await ch.get(TIMEOUT_QUEUE, { noAck: false });
        if (!msg) break;
        ch.nack(msg, false, true);
      }
    });
    await eventually(
      async () => (await queueDepth(url, PARKED_QUEUE)) === 1,
      15_000,
      'the broker to dead-letter the message to the parked queue',
    );
    expect(await queueDepth(url, TIMEOUT_QUEUE)).toBe(0);

    const res = await runCli(['dead-letters', 'list', '--json'], { AMQP_URL: url });
    expect(res.code).toBe(0);
    const [letter] = (JSON.parse(res.stdout) as ListJson).messages;
    expect(letter).toMatchObject({
      messageId: 'poison-1',
      orderId: '4242',
      attempts: 1,
      reason: 'delivery_limit',
      firstDeath: { queue: TIMEOUT_QUEUE, reason: 'delivery_limit' },
    });
    expect(letter!.parkedAt).toEqual(expect.any(String));

    const table = await runCli(['dead-letters', 'list'], { AMQP_URL: url });
    expect(table.stdout).toMatch(/4242\s+delivery_limit\s+1\s+\S+\s+order\.timeout: delivery_limit\s+poison-1/);

    // Replayed, its copy carries no dead-letter history into a loop.
    const replay = await runCli(['dead-letters', 'replay'], { AMQP_URL: url });
    expect(replay.code).toBe(0);
    const [copy] = await takeAll(url, TIMEOUT_QUEUE);
    const headers = copy!.properties.headers ?? {};
    expect(Object.keys(headers).filter((h) => /death/.test(h))).toEqual([]);
    expect(headers['x-replay-count']).toBe(1);
    expect(bodyOf(copy!)).toEqual({ orderId: '4242', expiresAt: '2026-01-01T00:00:00.000Z', attempt: 0 });
  });
});

describe('dead-letters replay', () => {
  test('when replaying --reason X, then only the messages parked for X move to order.timeout, reset and marked as replayed; the others stay parked', async () => {
    const { url } = await freshVhost();
    const specs = hundred('reason');
    await parkMessages(url, specs);
    const chosen = specs.filter((s) => s.reason === 'order not found');
    const others = specs.filter((s) => s.reason !== 'order not found');
    expect(chosen).toHaveLength(25);

    const res = await runCli(['dead-letters', 'replay', '--reason', 'ORDER NOT FOUND', '--json'], { AMQP_URL: url });
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(res.stdout)).toMatchObject({
      queue: PARKED_QUEUE,
      examined: 100,
      matched: 25,
      skipped: 75,
      dryRun: false,
      moved: 25,
      failed: 0,
      errors: [],
    });

    const arrived = await takeAll(url, TIMEOUT_QUEUE);
    expect(messageIds(arrived).sort()).toEqual(chosen.map((s) => s.messageId).sort());
    for (const msg of arrived) {
      const spec = chosen.find((s) => s.messageId === msg.properties.messageId)!;
      expect(bodyOf(msg)).toEqual({ orderId: spec.orderId, expiresAt: '2026-01-01T00:00:00.000Z', attempt: 0 });
      const headers = msg.properties.headers ?? {};
      expect(headers['x-replay-count']).toBe(1);
      expect(headers['x-replayed-from']).toBe(PARKED_QUEUE);
      for (const gone of [
        'x-death',
        'x-park-reason',
        'x-parked-at',
        'x-parked-from',
        'x-first-death-queue',
        'x-first-death-reason',
      ])
        expect(headers).not.toHaveProperty(gone);
      expect(msg.properties.deliveryMode).toBe(2);
    }

    // The rest are still parked, in their order.
    expect(messageIds(await peekAll(url, PARKED_QUEUE))).toEqual(others.map((s) => s.messageId));
  });

  test('when replaying with --dry-run, then nothing moves and it says what it would move', async () => {
    const { url } = await freshVhost();
    const specs = hundred('dry');
    await parkMessages(url, specs);

    const json = await runCli(['dead-letters', 'replay', '--dry-run', '--reason', 'closer crashed', '--json'], {
      AMQP_URL: url,
    });
    expect(json.code).toBe(0);
    const summary = JSON.parse(json.stdout);
    expect(summary).toMatchObject({ dryRun: true, examined: 100, matched: 25, skipped: 75, moved: 0, failed: 0 });
    expect(summary.wouldMove.map((r: { messageId: string }) => r.messageId)).toEqual(
      specs.filter((s) => s.reason === 'closer crashed').map((s) => s.messageId),
    );

    const text = await runCli(['dead-letters', 'replay', '--dry-run'], { AMQP_URL: url });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`dry run: would move 100, skip 0 (of 100 in ${PARKED_QUEUE})`);
    expect(text.stdout).toContain('dry-msg-57');

    expect(await queueDepth(url, TIMEOUT_QUEUE)).toBe(0);
    expect(messageIds(await peekAll(url, PARKED_QUEUE))).toEqual(specs.map((s) => s.messageId));
  });

  test("when replaying --order-id ID, then exactly that order's message moves", async () => {
    const { url } = await freshVhost();
    const specs = hundred('one');
    await parkMessages(url, specs);

    const res = await runCli(['dead-letters', 'replay', '--order-id', '1042'], { AMQP_URL: url });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`moved 1, skipped 99, failed 0 (of 100 in ${PARKED_QUEUE})`);
    const arrived = await takeAll(url, TIMEOUT_QUEUE);
    expect(messageIds(arrived)).toEqual(['one-msg-42']);
    expect(bodyOf(arrived[0]!)).toMatchObject({ orderId: '1042', attempt: 0 });
    expect(messageIds(await peekAll(url, PARKED_QUEUE))).toEqual(
      specs.filter((s) => s.orderId !== '1042').map((s) => s.messageId),
    );
  });

  test('when every parked message is replayed after being listed, then none is left parked and each arrives once', async () => {
    // Regression: the replay acknowledged its last window and closed at once, and the quorum queue dropped
    // most of those acks, so 66 of 100 "moved" messages were still parked (and would have been moved twice).
    const { url } = await freshVhost();
    const specs = hundred('all');
    await parkMessages(url, specs);
    expect((await runCli(['dead-letters', 'list'], { AMQP_URL: url })).code).toBe(0);

    const res = await runCli(['dead-letters', 'replay', '--json'], { AMQP_URL: url });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ examined: 100, matched: 100, moved: 100, failed: 0 });
    expect(await queueDepth(url, PARKED_QUEUE)).toBe(0);
    expect(messageIds(await takeAll(url, TIMEOUT_QUEUE)).sort()).toEqual(specs.map((s) => s.messageId).sort());
  });

  test('when --order-id is repeated and combined with --limit, then only the named orders move, at most the limit', async () => {
    const { url } = await freshVhost();
    await parkMessages(url, hundred('many'));

    const res = await runCli(
      [
        'dead-letters',
        'replay',
        '--order-id',
        '1001',
        '--order-id',
        '1002',
        '--order-id',
        '1003',
        '--limit',
        '2',
        '--json',
      ],
      { AMQP_URL: url },
    );
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ matched: 2, moved: 2, failed: 0 });
    expect(messageIds(await takeAll(url, TIMEOUT_QUEUE))).toEqual(['many-msg-1', 'many-msg-2']);
    expect(await queueDepth(url, PARKED_QUEUE)).toBe(98);
  });

  test('when order.timeout is not bound to its exchange, then the replay fails with exit 1 and every message stays parked', async () => {
    const { url } = await freshVhost();
    const specs = hundred('unbound').slice(0, 10);
    await parkMessages(url, specs);
    await withChannel(url, (ch) => ch.unbindQueue(TIMEOUT_QUEUE, TIMEOUT_EXCHANGE, TIMEOUT_ROUTING_KEY));

    const res = await runCli(['dead-letters', 'replay'], { AMQP_URL: url });
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('moved 0, skipped 0, failed 10');
    expect(res.stderr).toMatch(/unroutable/);
    expect(messageIds(await peekAll(url, PARKED_QUEUE))).toEqual(specs.map((s) => s.messageId));
  });

  test('when a replay of 1,000 messages is killed half way, then every message is still parked or back in order.timeout, and a second replay moves the rest', async () => {
    const { url } = await freshVhost();
    const specs: ParkedSpec[] = Array.from({ length: 1000 }, (_, i) => ({
      messageId: `kill-msg-${i}`,
      orderId: `${5000 + i}`,
      reason: REASONS[i % REASONS.length]!,
    }));
    await parkMessages(url, specs);
    const all = specs.map((s) => s.messageId).sort();

    const conn = await amqp.connect(url);
    let depthAtKill: number;
    try {
      const ch = await conn.createChannel();
      const replay = spawnCli(['dead-letters', 'replay'], { AMQP_URL: url });
      // As soon as the first copies are confirmed in order.timeout, kill the replay without warning.
      depthAtKill = await eventually(
        async () => {
          const { messageCount } = await ch.checkQueue(TIMEOUT_QUEUE);
          return messageCount > 0 ? messageCount : undefined;
        },
        30_000,
        'the replay to start moving messages',
      );
      replay.child.kill('SIGKILL');
      const result = await replay.result;
      expect(result.signal).toBe('SIGKILL');
      expect(result.stdout).toBe(''); // it never got to its summary
    } finally {
      await conn.close();
    }

    // Once the broker has noticed the dead connection, its unacknowledged messages are parked again.
    const inTimeout = new Set<string>();
    const collect = async () => {
      for (const id of messageIds(await takeAll(url, TIMEOUT_QUEUE))) inTimeout.add(id);
      const parked = messageIds(await peekAll(url, PARKED_QUEUE));
      return { parked, missing: all.filter((id) => !inTimeout.has(id) && !parked.includes(id)) };
    };
    const afterKill = await eventually(
      async () => {
        const state = await collect();
        return state.missing.length === 0 ? state : undefined;
      },
      20_000,
      'every message to be parked or in order.timeout',
    ).catch(async () => collect());
    expect(afterKill.missing).toEqual([]);
    expect(inTimeout.size).toBeGreaterThanOrEqual(depthAtKill!);
    expect(new Set(afterKill.parked).size).toBe(afterKill.parked.length);

    // Running the replay again moves what was left.
    const again = await runCli(['dead-letters', 'replay', '--json'], { AMQP_URL: url });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      examined: afterKill.parked.length,
      moved: afterKill.parked.length,
      failed: 0,
    });
    expect(await queueDepth(url, PARKED_QUEUE)).toBe(0);
    for (const id of messageIds(await takeAll(url, TIMEOUT_QUEUE))) inTimeout.add(id);
    expect([...inTimeout].sort()).toEqual(all);
  }, 120_000);
});

describe('dead-letters errors', () => {
  test('when the broker is unreachable, then list and replay exit 2 with one line on stderr, and nothing moves', async () => {
    const { url } = await freshVhost();
    await parkMessages(url, hundred('down').slice(0, 5));
    const unreachable = 'amqp://guest:guest@127.0.0.1:1/x';
    for (const args of [
      ['dead-letters', 'list'],
      ['dead-letters', 'replay'],
    ]) {
      const res = await runCli(args, { AMQP_URL: unreachable });
      expect(res.code).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr.trimEnd().split('\n')).toEqual([
        expect.stringMatching(/^order-timeout: broker unreachable at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1\/x/),
      ]);
    }
    expect(await queueDepth(url, PARKED_QUEUE)).toBe(5);
  });

  test('when the queue does not exist, then list and replay exit 2 saying unknown queue', async () => {
    const { url } = await freshVhost();
    for (const args of [
      ['dead-letters', 'list', '--queue', 'no.such.queue'],
      ['dead-letters', 'replay', '--queue', 'no.such.queue'],
    ]) {
      const res = await runCli(args, { AMQP_URL: url });
      expect(res.code).toBe(2);
      expect(res.stderr.trimEnd().split('\n')).toEqual(['order-timeout: unknown queue no.such.queue']);
    }
  });

  test('when a flag is bad (--limit zero, an unknown option), then the command exits 2 naming it, and nothing moves', async () => {
    const { url } = await freshVhost();
    await parkMessages(url, hundred('flags').slice(0, 5));
    const cases: [string[], RegExp][] = [
      [['dead-letters', 'list', '--limit', 'zero'], /--limit <n>.*'zero' is invalid/],
      [['dead-letters', 'replay', '--limit', '0'], /--limit <n>.*'0' is invalid/],
      [['dead-letters', 'replay', '--bogus'], /unknown option '--bogus'/],
      [['dead-letters', 'list', '--limit'], /--limit <n>.*argument missing/],
      [['dead-letters', 'frobnicate'], /unknown command 'frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const res = await runCli(args, { AMQP_URL: url });
      expect({ args, code: res.code, firstLine: res.stderr.split('\n')[0] }).toEqual({
        args,
        code: 2,
        firstLine: expect.stringMatching(message),
      });
    }
    expect(await queueDepth(url, PARKED_QUEUE)).toBe(5);
    expect(await queueDepth(url, TIMEOUT_QUEUE)).toBe(0);
  });
});
