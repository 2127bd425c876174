import { readTimeoutStats } from '../../src/orders/read-timeout-stats';
import { expectProblem } from '../support/fixtures';
import { makeOrder, makeProduct, waitForStatus } from '../support/fixtures';
import { startTestService, type TestService } from '../support/service';
import { pay as payOrder } from '../support/payments';

let svc: TestService;
/** closed_at - expires_at (ms) of the two flash orders that timed out, ascending. */
let flashLateness: number[];

const DAY = 86_400_000;
const LAB_ORDERS = 100;

const pay = async (id: string) => expect((await payOrder(svc, id, `pay-${id}`)).status).toBe(200);
const stats = async (query = '') => {
  const res = await svc.api('GET', `/stats/timeouts${query}`);
  expect(res.status).toBe(200);
  return res.body;
};
const byCategory = (body: { categories: { category: string }[] }): Record<string, any> =>
  Object.fromEntries(body.categories.map((c) => [c.category, c]));

// One data set for the whole file, built through the API (plus one old category written straight to the database):
//   flash (2 s window): 4 orders: 1 paid, 1 cancelled, 2 closed by timeout
//   books (default 15 m): 3 orders: 1 paid, 2 pending
//   fresh (5 m): 1 order of a book and a fresh product (the shorter window wins): pending
//   lab: 100 orders created 2 days ago, all CLOSED, lateness 1..100 ms (the later created, the later closed)
beforeAll(async () => {
  svc = await startTestService({
    delayLevels: '1s,2s,5s',
    orderPaymentTimeouts: { default: '15m', flash: '2s', fresh: '5m' },
  });
  const flash = (await makeProduct(svc, { category: 'flash' })).id;
  const books = (await makeProduct(svc, { category: 'books' })).id;
  const fresh = (await makeProduct(svc, { category: 'fresh' })).id;

  const flashOrders = [];
  for (let i = 0; i < 4; i++) flashOrders.push(await makeOrder(svc, [{ productId: flash, quantity: 1 }]));
  await pay(flashOrders[0]!.id);
  expect((await svc.api('POST', `/orders/${flashOrders[1]!.id}/cancel`)).status).toBe(200);
  const bookOrders = [
    await makeOrder(svc, [{ productId: books, quantity: 1 }]),
    await makeOrder(svc, [{ productId: books, quantity: 1 }]),
    await makeOrder(svc, [{ productId: books, quantity: 1 }]),
  ];
  await pay(bookOrders[0]!.id);
  const mixed = await svc.api('POST', '/orders', {
    customerId: 'c',
    items: [
      { productId: books, quantity: 1 },
      { productId: fresh, quantity: 1 },
    ],
  });
  expect(mixed.body.category).toBe('fresh');
  const closed = await Promise.all(flashOrders.slice(2).map((o) => waitForStatus(svc, o.id, 'CLOSED', 10_000)));
  flashLateness = closed.map((r) => r.closed_at!.getTime() - r.expires_at.getTime()).sort((a, b) => a - b);

  const base = Date.now() - 2 * DAY;
  await svc.db('orders').insert(
    Array.from({ length: LAB_ORDERS }, (_, i) => {
      const expiresAt = new Date(base + i * 1_000 + 60_000);
      return {
        customer_id: 'lab',
        status: 'CLOSED',
        category: 'lab',
        total_cents: 1,
        created_at: new Date(base + i * 1_000),
        expires_at: expiresAt,
        closed_at: new Date(expiresAt.getTime() + i + 1),
        updated_at: new Date(),
      };
    }),
  );
});
afterAll(async () => svc?.destroy());

describe('GET /stats/timeouts', () => {
  test('when asked without since, then it covers the last 24 h and counts each category by outcome', async () => {
    const body = await stats();
    expect(Date.parse(body.until) - Date.parse(body.since)).toBe(DAY);
    const cats = byCategory(body);
    expect(Object.keys(cats).sort()).toEqual(['books', 'flash', 'fresh']);
    expect(cats.flash).toEqual(
      expect.objectContaining({ created: 4, paid: 1, closedByTimeout: 2, cancelled: 1, pending: 0, timeoutRate: 0.5 }),
    );
    expect(cats.books).toEqual(
      expect.objectContaining({ created: 3, paid: 1, closedByTimeout: 0, cancelled: 0, pending: 2, timeoutRate: 0 }),
    );
    expect(cats.fresh).toEqual(
      expect.objectContaining({ created: 1, paid: 0, closedByTimeout: 0, cancelled: 0, pending: 1, timeoutRate: 0 }),
    );
  });

  test('when categories differ in timeout rate, then the highest rate comes first (ties: more orders first)', async () => {
    const body = await stats();
    expect(body.categories.map((c: { category: string }) => c.category)).toEqual(['flash', 'books', 'fresh']);
  });

  test('when orders timed out, then p50, p99 and max lateness are those of their closed_at - expires_at; with none, they are null', async () => {
    const cats = byCategory(await stats());
    expect(flashLateness.every((ms) => ms >= 0)).toBe(true);
    expect(cats.flash.latenessMs).toEqual({
      p50: flashLateness[0],
      p99: flashLateness[1],
      max: flashLateness[1],
      samples: 2,
    });
    expect(cats.books.latenessMs).toEqual({ p50: null, p99: null, max: null, samples: 0 });
  });

  test('adds the categories up into totals with their own rate and lateness', async () => {
    const body = await stats();
    expect(body.totals).toEqual({
      created: 8,
      paid: 2,
      closedByTimeout: 2,
      cancelled: 1,
      pending: 3,
      timeoutRate: 0.25,
      latenessMs: { p50: flashLateness[0], p99: flashLateness[1], max: flashLateness[1], samples: 2 },
    });
  });

  test('when since reaches back 72 h, then orders created 2 days ago count too, with percentiles over 100 closes', async () => {
    const body = await stats('?since=72h');
    expect(Date.parse(body.until) - Date.parse(body.since)).toBe(3 * DAY);
    expect(body.categories[0]).toEqual({
      category: 'lab',
      created: LAB_ORDERS,
      paid: 0,
      closedByTimeout: LAB_ORDERS,
      cancelled: 0,
      pending: 0,
      timeoutRate: 1,
      latenessMs: { p50: 50, p99: 99, max: 100, samples: LAB_ORDERS },
    });
    expect(body.totals.created).toBe(8 + LAB_ORDERS);
    expect(body.totals.latenessMs.max).toBe(100);
  });

  test('when since is an ISO-8601 time, then only orders created at or after it count, and it is echoed back', async () => {
    // Half-way through the lab orders: the 50 created at or after it.
    const labStart = (
      (await svc.db('orders').where({ category: 'lab' }).min({ t: 'created_at' }).first()) as { t: Date }
    ).t;
    const since = new Date(labStart.getTime() + 50_000).toISOString();
    const body = await stats(`?since=${encodeURIComponent(since)}`);
    expect(body.since).toBe(since);
    const lab = byCategory(body).lab;
    expect(lab).toEqual(expect.objectContaining({ created: 50, closedByTimeout: 50 }));
    expect(lab.latenessMs).toEqual({ p50: 75, p99: 100, max: 100, samples: 50 });
    expect(byCategory(body).flash.created).toBe(4);
  });

  test('when since is in the future, then there are no categories and the totals are zero', async () => {
    const body = await stats(`?since=${new Date(Date.now() + DAY).toISOString()}`);
    expect(body.categories).toEqual([]);
    expect(body.totals).toEqual({
      created: 0,
      paid: 0,
      closedByTimeout: 0,
      cancelled: 0,
      pending: 0,
      timeoutRate: 0,
      latenessMs: { p50: null, p99: null, max: null, samples: 0 },
    });
  });

  test.each(['yesterday', '24', '0s', '-1h', '2026-02-30T00:00:00Z', '2026-11-20T25:00:00Z', ''])(
    'when since is %p, then it answers 400 problem+json naming the accepted forms',
    async (since) => {
      const res = await svc.api('GET', `/stats/timeouts?since=${encodeURIComponent(since)}`);
      expectProblem(res, 400, 'bad-request');
      expect(res.body.detail).toMatch(/ISO-8601|duration|positive/);
    },
  );

  test('when since is given twice, then it answers 400 problem+json', async () => {
    expectProblem(await svc.api('GET', '/stats/timeouts?since=1h&since=2h'), 400, 'bad-request');
  });
});

describe('lateness sample cap', () => {
  test('when a category has more closed orders than the sample limit, then p50/p99 come from the most recent ones and max stays exact', async () => {
    const body = await readTimeoutStats(svc.useCases, { since: new Date(Date.now() - 3 * DAY), sampleLimit: 10 });
    const lab = body.groups.find((c) => c.group === 'lab')!;
    expect(lab.closedByTimeout).toBe(LAB_ORDERS);
    // The 10 most recently created lab orders were closed 91..100 ms late.
    expect(lab.latenessMs).toEqual({ p50: 95, p99: 100, max: 100, samples: 10 });
    expect(body.totals.latenessMs.samples).toBe(10);
    expect(body.totals.latenessMs.max).toBe(100);
  });
});

describe('GET /stats/timeouts?by=region|tier', () => {
  type Group = { group: string; created: number; closedByTimeout: number; timeoutRate: number };
  const groupsOf = (body: { groups: Group[] }) => Object.fromEntries(body.groups.map((g) => [g.group, g]));

  test('when orders carry a region and a tier, then the figures are grouped each way with the same totals', async () => {
    const flash = (await makeProduct(svc, { category: 'flash' })).id;
    const books = (await makeProduct(svc, { category: 'books' })).id;
    const create = async (productId: string, extra: object) => {
      const res = await svc.api('POST', '/orders', {
        customerId: 'dim',
        items: [{ productId, quantity: 1 }],
        ...extra,
      });
      expect(res.status).toBe(201);
      return res.body as { id: string; region: string; customerTier: string };
    };
    const eu = [
      await create(flash, { region: 'eu', customerTier: 'gold' }),
      await create(flash, { region: 'eu', customerTier: 'gold' }),
    ];
    const us = [await create(books, { region: 'us', customerTier: 'gold' }), await create(books, { region: 'us' })];
    expect(us[1]).toEqual(expect.objectContaining({ region: 'us', customerTier: 'standard' }));
    await Promise.all(eu.map((o) => waitForStatus(svc, o.id, 'CLOSED', 10_000)));

    const byRegion = await stats('?by=region');
    expect(byRegion.by).toBe('region');
    expect(byRegion.categories).toBeUndefined();
    const regions = groupsOf(byRegion);
    expect(regions.eu).toEqual(expect.objectContaining({ created: 2, closedByTimeout: 2, timeoutRate: 1 }));
    expect(regions.us).toEqual(expect.objectContaining({ created: 2, closedByTimeout: 0, timeoutRate: 0 }));
    // The orders of the data set above say no region.
    expect(regions.unknown).toEqual(expect.objectContaining({ created: 8, closedByTimeout: 2 }));
    expect(byRegion.groups[0].group).toBe('eu');

    const byTier = await stats('?by=tier');
    const tiers = groupsOf(byTier);
    expect(tiers.gold).toEqual(expect.objectContaining({ created: 3, closedByTimeout: 2 }));
    expect(tiers.standard).toEqual(expect.objectContaining({ created: 9, closedByTimeout: 2 }));

    const byCategory = await stats();
    expect(byCategory.groups).toEqual(
      byCategory.categories.map(({ category, ...g }: any) => ({ group: category, ...g })),
    );
    expect(byTier.totals).toEqual(byRegion.totals);
    expect(byCategory.totals).toEqual(byRegion.totals);
  });

  test.each([
    ['a region with a space', { region: 'eu west' }],
    ['a region over 32 characters', { region: 'r'.repeat(33) }],
    ['a tier that is not a string', { customerTier: 3 }],
    ['an empty tier', { customerTier: '' }],
  ])('when an order has %s, then it is a 400 naming the field', async (_n, extra) => {
    const productId = (await makeProduct(svc)).id;
    const res = await svc.api('POST', '/orders', { customerId: 'c', items: [{ productId, quantity: 1 }], ...extra });
    expectProblem(res, 400, 'bad-request');
    expect(res.body.errors[0].path).toBe(Object.keys(extra)[0]);
  });

  test('when by is not category, region or tier, then it is a 400', async () => {
    expectProblem(await svc.api('GET', '/stats/timeouts?by=country'), 400, 'bad-request');
    expectProblem(await svc.api('GET', '/stats/timeouts?by=region&by=tier'), 400, 'bad-request');
  });
});
