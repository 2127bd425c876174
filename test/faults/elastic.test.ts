import { createScratch, PRODUCTS, publishDue, seedOrders, seedProducts, type Scratch } from '../../bench/support';
import { connectDatabase } from '../../src/db/connect';
import { eventually } from '../support/scratch';
import { countScenario, report } from './support/invariants';
import { closeLateness, latenessText } from './support/paced-load';
import { note, startChildService, type ChildService } from './support/traffic';

// Elastic instances (issue 14): processes join in the middle of a burst and leave (SIGTERM) in the middle of a
// drain; no order may be lost or closed twice, and what a leaving process held goes back to the broker for the
// others. 20,000 orders as the issue asks; npm test sets FAULTS_SCALE_ORDERS lower to stay inside CI's budget.
const ORDERS = Number(process.env.FAULTS_SCALE_ORDERS ?? 20_000);
const LEVELS = '1s,2s,5s';

const pendingCount = async (scratch: Scratch) => {
  const [rows] = await scratch.pool.query("SELECT COUNT(*) AS n FROM orders WHERE status = 'PENDING_PAYMENT'");
  return Number((rows as { n: number }[])[0]!.n);
};

const start = (scratch: Scratch) =>
  startChildService({
    MYSQL_URL: scratch.mysqlUrl,
    AMQP_URL: scratch.amqpUrl,
    DELAY_LEVELS: LEVELS,
    ORDER_PAYMENT_TIMEOUTS: JSON.stringify({ default: '15m', general: '3s' }),
    // No sweeper: every order must be closed by its timeout message. No load balancer to wait for on SIGTERM.
    SWEEP_INTERVAL: '1h',
    SHUTDOWN_READINESS_DELAY: '0',
  });

/** Closes per second between the first and last close among orders closed in [from, to]. */
async function closeRate(scratch: Scratch, from: Date, to: Date): Promise<{ closed: number; perSecond: number }> {
  const [rows] = await scratch.pool.query(
    'SELECT COUNT(*) AS n, TIMESTAMPDIFF(MICROSECOND, MIN(closed_at), MAX(closed_at)) AS us FROM orders WHERE closed_at BETWEEN ? AND ?',
    [from, to],
  );
  const { n, us } = (rows as { n: number; us: number | null }[])[0]!;
  return { closed: Number(n), perSecond: Math.round(Number(n) / Math.max(Number(us ?? 0) / 1e6, 0.001)) };
}

/** `held timeouts handed back` counts from a stopped process's log. */
const handedBack = (output: string) =>
  output
    .split('\n')
    .filter((l) => l.includes('held timeouts handed back'))
    .reduce((sum, l) => sum + Number((JSON.parse(l) as { handedBack?: number }).handedBack ?? 0), 0);

test('when two processes join a running one in the middle of a burst of 20,000 orders (FAULTS_SCALE_ORDERS), then every order is created and closed exactly once, and each phase is reported', async () => {
  const scratch = await createScratch(4, LEVELS);
  const db = connectDatabase({ url: scratch.mysqlUrl, poolSize: 2 });
  const services: ChildService[] = [];
  try {
    await seedProducts(scratch.pool, 'general');
    services.push(await start(scratch));
    const acknowledged: string[] = [];
    let next = 0;
    let scaling: Promise<void> | undefined;
    const marks: Record<string, Date> = { start: new Date() };
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        while (next < ORDERS) {
          const i = next++;
          if (i === Math.floor(ORDERS / 2)) {
            marks.scaleUp = new Date();
            scaling = Promise.all([start(scratch), start(scratch)]).then((added) => {
              services.push(...added);
              marks.scaled = new Date();
            });
          }
          const base = services[i % services.length]!.baseUrl;
          const res = await fetch(`${base}/orders`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              customerId: 'elastic',
              items: [{ productId: String(1 + (i % PRODUCTS)), quantity: 1 }],
            }),
          });
          const body = (await res.json()) as { id?: string };
          if (res.status === 201 && body.id) acknowledged.push(body.id);
        }
      }),
    );
    await scaling;
    marks.end = new Date();
    expect(services).toHaveLength(3);
    expect(acknowledged.length).toBe(ORDERS);
    await eventually(
      async () => ((await pendingCount(scratch)) === 0 ? true : undefined),
      180_000,
      'every order to close',
    );
    const one = await closeLateness(db, marks.start!, marks.scaleUp!);
    const three = await closeLateness(db, marks.scaled!, marks.end);
    const [created] = await scratch.pool.query(
      'SELECT SUM(created_at < ?) AS before_, SUM(created_at >= ?) AS after_ FROM orders',
      [marks.scaleUp, marks.scaled],
    );
    const c = (created as { before_: number; after_: number }[])[0]!;
    const secs = (a: Date, b: Date) => (b.getTime() - a.getTime()) / 1000;
    note(
      `1 process: ${Math.round(Number(c.before_) / secs(marks.start!, marks.scaleUp!))} orders/s created, ${latenessText(one)}; ` +
        `2 processes joined in ${secs(marks.scaleUp!, marks.scaled!).toFixed(1)} s; ` +
        `3 processes: ${Math.round(Number(c.after_) / secs(marks.scaled!, marks.end))} orders/s created, ${latenessText(three)}`,
    );
    report({
      ...(await countScenario(db, `elastic: 1 -> 3 processes in the middle of a ${ORDERS}-order burst`, acknowledged)),
      lateness: `1 process p99 ${one.p99} ms, 3 processes p99 ${three.p99} ms`,
    });
  } finally {
    await Promise.all(services.map((s) => s.kill('SIGTERM')));
    await db.destroy();
    await scratch.destroy();
  }
}, 600_000);

test('when two of three processes get SIGTERM in the middle of draining 20,000 due orders (FAULTS_SCALE_ORDERS), then they exit 0 handing back what they held, and the last one closes every order exactly once', async () => {
  const scratch = await createScratch(4, LEVELS);
  const db = connectDatabase({ url: scratch.mysqlUrl, poolSize: 2 });
  const services: ChildService[] = [];
  try {
    await seedProducts(scratch.pool, 'general');
    services.push(...(await Promise.all([start(scratch), start(scratch), start(scratch)])));
    // The orders fall due over 1.5 s, a few seconds from now, faster than the processes can close them (a drain).
    // Their messages all say the earliest deadline: they arrive early and are held in the processes for the last
    // stretch, so the processes that leave hold some when they get SIGTERM.
    const due = new Date(Date.now() + 6_000);
    const ids = await seedOrders(scratch.pool, { firstId: 1, count: ORDERS, expiresAt: due });
    await scratch.pool.query('UPDATE orders SET expires_at = expires_at + INTERVAL (id % 16) * 100000 MICROSECOND');
    await publishDue(scratch.amqpUrl, ids, due);
    await eventually(
      async () => ((await pendingCount(scratch)) <= (ORDERS * 2) / 3 ? true : undefined),
      120_000,
      'a third of the orders to close',
    );
    const sigterm = new Date();
    const leaving = services.splice(0, 2);
    const exits = await Promise.all(leaving.map((s) => s.kill('SIGTERM')));
    const left = new Date();
    expect(exits.map((e) => e.code)).toEqual([0, 0]);
    const back = leaving.map((s) => handedBack(s.output()));
    // Each leaving process said how many it handed back (possibly none, if none was held at that instant).
    expect(leaving.map((s) => s.output().includes('held timeouts handed back'))).toEqual([true, true]);
    await eventually(async () => ((await pendingCount(scratch)) === 0 ? true : undefined), 180_000, 'the drain to end');
    const end = new Date();
    const three = await closeRate(scratch, new Date(0), sigterm);
    const one = await closeRate(scratch, sigterm, end);
    const lateness = await closeLateness(db, due, new Date(due.getTime() + 1_500));
    note(
      `3 processes: ${three.closed} closed at ${three.perSecond}/s; SIGTERM to 2, both exited 0 in ` +
        `${((left.getTime() - sigterm.getTime()) / 1000).toFixed(1)} s handing back ${back.join(' + ')} held timeouts; ` +
        `after the SIGTERM (1 process, and the 2 finishing what they had started): ${one.closed} closed at ${one.perSecond}/s; all: ${latenessText(lateness)}`,
    );
    report({
      ...(await countScenario(
        db,
        `elastic: 3 -> 1 processes (SIGTERM) in the middle of a ${ORDERS}-order drain`,
        ids.map(String),
      )),
      lateness: `3 processes ${three.perSecond} closes/s, after SIGTERM ${one.perSecond} closes/s, p99 ${lateness.p99} ms, ${back.reduce((a, b) => a + b, 0)} held handed back`,
    });
  } finally {
    await Promise.all(services.map((s) => s.kill('SIGTERM')));
    await db.destroy();
    await scratch.destroy();
  }
}, 600_000);
