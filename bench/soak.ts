import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectDatabase } from '../src/db/connect';
import { parseDuration } from '../src/domain/duration';
import { countScenario } from '../test/faults/support/invariants';
import { startPacedLoad } from '../test/faults/support/paced-load';
import { timeSeriesSvg } from './plot';
import {
  createScratch,
  log,
  management,
  PRODUCTS,
  percentile,
  ROOT,
  rssOf,
  seedProducts,
  sleep,
  startServiceProcess,
  waitFor,
} from './support';

// `npm run soak`: one service process under a steady mixed load (orders created at SOAK_RATE/s, 30 % paid and
// 10 % cancelled at once, the rest timing out after SOAK_WINDOW) for SOAK_DURATION, sampled every SOAK_SAMPLE:
// close lateness p99 of the orders closed in that interval, the service's RSS, the broker's memory and the queue
// depths. Writes bench/soak.json, bench/soak.csv and bench/soak.svg. Not part of npm test: it takes 30 minutes.
const DURATION_MS = parseDuration(process.env.SOAK_DURATION ?? '30m');
const SAMPLE_MS = parseDuration(process.env.SOAK_SAMPLE ?? '10s');
const RATE = Number(process.env.SOAK_RATE ?? 200);
const WINDOW = process.env.SOAK_WINDOW ?? '30s';
const SECRET = 'bench-webhook-secret'; // what startServiceProcess gives the service

interface Sample {
  /** Seconds since the load started. */
  t: number;
  created: number;
  closedInInterval: number;
  latenessP99Ms: number;
  serviceRssMb: number;
  brokerMemoryMb: number;
  /** Messages per queue of the soak's vhost. */
  queues: Record<string, number>;
}

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

async function main(): Promise<void> {
  const scratch = await createScratch(4);
  const db = connectDatabase({ url: scratch.mysqlUrl, poolSize: 2 });
  await seedProducts(scratch.pool, 'general');
  const service = await startServiceProcess(scratch, {
    ORDER_PAYMENT_TIMEOUTS: JSON.stringify({ default: '15m', general: WINDOW }),
  });
  const baseUrl = `http://127.0.0.1:${service.port}`;
  log(`soak: ${RATE} orders/s for ${DURATION_MS / 60_000} min, window ${WINDOW}, sampling every ${SAMPLE_MS / 1000} s`);
  const load = startPacedLoad({
    baseUrls: () => [baseUrl],
    productIds: Array.from({ length: PRODUCTS }, (_, i) => String(i + 1)),
    ratePerSecond: RATE,
    payShare: 0.3,
    cancelShare: 0.1,
    webhookSecret: SECRET,
    maxInFlight: 128,
  });
  const started = Date.now();
  const samples: Sample[] = [];
  let since = new Date();
  while (Date.now() - started < DURATION_MS) {
    await sleep(SAMPLE_MS - ((Date.now() - started) % SAMPLE_MS));
    const now = new Date();
    const rows: { ms: number | string }[] = await db('orders')
      .select(db.raw('TIMESTAMPDIFF(MICROSECOND, expires_at, closed_at) / 1000 AS ms'))
      .where({ status: 'CLOSED' })
      .andWhere('closed_at', '>', since)
      .andWhere('closed_at', '<=', now);
    since = now;
    const nodes = await management<{ mem_used: number }[]>('/nodes');
    const queues = await management<{ name: string; messages?: number }[]>(
      `/queues/${encodeURIComponent(scratch.vhost)}?columns=name,messages`,
    );
    const sample: Sample = {
      t: Math.round((Date.now() - started) / 1000),
      created: load.tally.acknowledged.length,
      closedInInterval: rows.length,
      latenessP99Ms: Math.round(
        percentile(
          rows.map((r) => Number(r.ms)).sort((a, b) => a - b),
          99,
        ) || 0,
      ),
      serviceRssMb: Math.round((await rssOf(service.pid)) / 1e5) / 10,
      brokerMemoryMb: Math.round(nodes.reduce((sum, n) => sum + n.mem_used, 0) / 1e5) / 10,
      queues: Object.fromEntries(queues.map((q) => [q.name, q.messages ?? 0])),
    };
    samples.push(sample);
    log(
      `t=${sample.t}s created=${sample.created} closed=${sample.closedInInterval} p99=${sample.latenessP99Ms}ms rss=${sample.serviceRssMb}MB broker=${sample.brokerMemoryMb}MB`,
    );
  }
  const tally = await load.stop();
  await waitFor(
    'every order to settle',
    async () => {
      const row = await db('orders').where({ status: 'PENDING_PAYMENT' }).count({ n: '*' }).first();
      return { done: Number(row?.n) === 0, progress: `${String(row?.n)} pending` };
    },
    parseDuration(WINDOW) + 120_000,
  );
  const counts = await countScenario(db, 'soak', tally.acknowledged);
  await service.stop();
  await db.destroy();
  await scratch.destroy();

  // Flat: the last third of the run against the first (after a minute of warm-up).
  const steady = samples.filter((s) => s.t >= 60);
  const third = Math.max(1, Math.floor(steady.length / 3));
  const drift = (pick: (s: Sample) => number) => ({
    first: median(steady.slice(0, third).map(pick)),
    last: median(steady.slice(-third).map(pick)),
  });
  const summary = {
    machine: { cores: os.cpus().length, memoryGb: Math.round(os.totalmem() / 1e9), node: process.version },
    durationMinutes: DURATION_MS / 60_000,
    rate: RATE,
    achievedRate: Math.round(tally.acknowledged.length / (DURATION_MS / 1000)),
    window: WINDOW,
    tally: { ...tally, acknowledged: tally.acknowledged.length },
    invariants: counts,
    latenessP99Ms: drift((s) => s.latenessP99Ms),
    serviceRssMb: drift((s) => s.serviceRssMb),
    brokerMemoryMb: drift((s) => s.brokerMemoryMb),
  };
  const queueNames = [...new Set(samples.flatMap((s) => Object.keys(s.queues)))].sort();
  writeFileSync(path.join(ROOT, 'bench', 'soak.json'), `${JSON.stringify({ summary, samples }, null, 2)}\n`);
  writeFileSync(
    path.join(ROOT, 'bench', 'soak.csv'),
    [
      ['t', 'created', 'closed_in_interval', 'lateness_p99_ms', 'service_rss_mb', 'broker_memory_mb', ...queueNames],
      ...samples.map((s) => [
        s.t,
        s.created,
        s.closedInInterval,
        s.latenessP99Ms,
        s.serviceRssMb,
        s.brokerMemoryMb,
        ...queueNames.map((q) => s.queues[q] ?? 0),
      ]),
    ]
      .map((r) => r.join(','))
      .join('\n') + '\n',
  );
  const queued = (s: Sample) => Object.values(s.queues).reduce((a, b) => a + b, 0);
  writeFileSync(
    path.join(ROOT, 'bench', 'soak.svg'),
    timeSeriesSvg(
      [
        { name: 'close lateness p99', unit: 'ms', points: samples.map((s) => [s.t, s.latenessP99Ms]) },
        { name: 'service RSS', unit: 'MB', points: samples.map((s) => [s.t, s.serviceRssMb]) },
        { name: 'broker memory', unit: 'MB', points: samples.map((s) => [s.t, s.brokerMemoryMb]) },
        { name: 'messages in the queues', unit: 'messages', points: samples.map((s) => [s.t, queued(s)]) },
      ],
      `soak: ${RATE} orders/s asked (${summary.achievedRate} achieved), ${DURATION_MS / 60_000} min, window ${WINDOW}`,
    ),
  );
  log(`summary: ${JSON.stringify({ ...summary, invariants: undefined })}`);
  log(
    `invariants: lost ${counts.lost}, double-restock ${counts.doubleRestock}, conserved ${counts.holdsConserved}, money ${counts.moneyConserved}`,
  );
  log('wrote bench/soak.json, bench/soak.csv and bench/soak.svg');
  if (counts.lost > 0 || counts.doubleRestock > 0 || !counts.holdsConserved || !counts.moneyConserved)
    process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
