import autocannon from 'autocannon';
import {
  createScratch,
  log,
  percentile,
  seedProducts,
  startServiceProcess,
  waitForNonePending,
  PRODUCTS,
  type Scratch,
} from '../support';

/** One overload run: what the clients got, and how late the timeouts of the orders created meanwhile closed. */
export interface OverloadRun {
  /** Responses by status code, plus `errors` (socket errors) and `timeouts` (no answer within 10 s). */
  responses: Record<string, number>;
  createdPerSecond: number;
  /** Latency of all answers (ms). */
  p99Ms: number;
  /** closed_at − expires_at of orders whose deadline fell while HTTP was saturated (ms). */
  lateness: { count: number; p50Ms: number; p99Ms: number; maxMs: number };
  /** stock + held + sold − received over all products: 0 when every 201 order is consistent. */
  stockDifference: number;
}

export interface OverloadResult {
  offeredPerSecond: number;
  seconds: number;
  connections: number;
  /** The service as shipped: load shedding on, the closer on its own pool. */
  shedding: OverloadRun;
  /** The same with shedding off (a limit nothing reaches), same run. */
  unbounded: OverloadRun;
  /** Shedding on, with the roles apart: the load on an API-only process, the timeouts in a closer-only one. */
  split: OverloadRun;
}

const WINDOW = '2s';

/** One run against service processes started with `envs` (one process each); the first takes the HTTP load. */
async function overloadRun(
  offered: number,
  seconds: number,
  connections: number,
  envs: Record<string, string>[],
): Promise<OverloadRun> {
  const scratch: Scratch = await createScratch(8);
  try {
    await seedProducts(scratch.pool, 'general');
    const services = [];
    for (const env of envs)
      services.push(await startServiceProcess(scratch, { ORDER_PAYMENT_TIMEOUTS: `{"default":"${WINDOW}"}`, ...env }));
    const service = services[0]!;
    const started = new Date();
    let n = 0;
    const result = await autocannon({
      url: `http://127.0.0.1:${service.port}`,
      connections,
      overallRate: offered,
      duration: seconds,
      timeout: 10,
      requests: [
        {
          method: 'POST',
          path: '/orders',
          headers: { 'content-type': 'application/json' },
          setupRequest: (req) => ({
            ...req,
            body: JSON.stringify({
              customerId: 'bench',
              items: [{ productId: String(1 + (n++ % PRODUCTS)), quantity: 1 }],
            }),
          }),
        },
      ],
    });
    const ended = new Date();
    await waitForNonePending(scratch.pool, 'overload: every created order closed', 120_000);
    for (const s of services) await s.stop();
    const [late] = await scratch.pool.query(
      `SELECT TIMESTAMPDIFF(MICROSECOND, expires_at, closed_at) / 1000 AS ms FROM orders
        WHERE status = 'CLOSED' AND expires_at BETWEEN ? AND ? ORDER BY ms`,
      [started, ended],
    );
    const ms = (late as { ms: string }[]).map((r) => Number(r.ms));
    const [diff] = await scratch.pool.query(
      `SELECT COALESCE(SUM(p.stock + COALESCE(h.held, 0) - p.stock_received), 0) AS d FROM products p
         LEFT JOIN (SELECT i.product_id, SUM(i.quantity) AS held FROM order_items i JOIN orders o ON o.id = i.order_id
                     WHERE o.status IN ('PENDING_PAYMENT', 'PAID', 'SHIPPED', 'COMPLETED') GROUP BY i.product_id) h
           ON h.product_id = p.id`,
    );
    const responses: Record<string, number> = { errors: result.errors, timeouts: result.timeouts };
    for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) responses[code] = Number(stat.count);
    return {
      responses,
      createdPerSecond: (responses['201'] ?? 0) / seconds,
      p99Ms: result.latency.p99,
      lateness: {
        count: ms.length,
        p50Ms: percentile(ms, 50),
        p99Ms: percentile(ms, 99),
        maxMs: ms.at(-1) ?? Number.NaN,
      },
      stockDifference: Number((diff as { d: string }[])[0]!.d),
    };
  } finally {
    await scratch.destroy();
  }
}

/**
 * Overload: POST /orders offered at `offered`/s (more than the create path takes) for `seconds`, from many
 * connections; with the shipped load shedding and, in the same run, with shedding off and with the API and the
 * closer in processes of their own. Orders get a 2 s window, so their timeouts fall while HTTP is still saturated.
 */
export async function overload(offered: number, seconds: number, connections = 400): Promise<OverloadResult> {
  log(`overload: ${offered}/s offered for ${seconds} s from ${connections} connections, shedding on`);
  const shedding = await overloadRun(offered, seconds, connections, [{}]);
  log(`overload: the same with shedding off`);
  const unbounded = await overloadRun(offered, seconds, connections, [
    { HTTP_MAX_IN_FLIGHT: '100000', HTTP_MAX_QUEUE_WAIT: '1h' },
  ]);
  log(`overload: shedding on, roles apart (SERVICE_ROLES=api takes the load, SERVICE_ROLES=closer closes)`);
  const split = await overloadRun(offered, seconds, connections, [
    { SERVICE_ROLES: 'api' },
    { SERVICE_ROLES: 'closer' },
  ]);
  return { offeredPerSecond: offered, seconds, connections, shedding, unbounded, split };
}
