import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { latenessSvg } from './plot';
import { backlogDrain } from './scenarios/backlog';
import { burst } from './scenarios/burst';
import { pendingCapacity } from './scenarios/capacity';
import { createRate } from './scenarios/create';
import { eventsRates } from './scenarios/events';
import { holdsRates } from './scenarios/holds';
import { overload, type OverloadRun } from './scenarios/overload';
import { steadyLateness, steadyScheduled, type SteadyResult } from './scenarios/steady';
import { log, management, PRODUCTS, ROOT } from './support';

// `npm run bench` (all but capacity); `-- --quick` for a fast, smaller run; `-- --capacity [--capacity-orders N]`
// adds the pending-capacity scenario; `-- --only backlog,steady,steady1000,burst,create,hot,holds,events,overload,capacity`
// picks scenarios.
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const argValue = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = argValue('--only')?.split(',');
const wants = (name: string) => (only ? only.includes(name) : name !== 'capacity' || args.includes('--capacity'));

interface Row {
  scenario: string;
  figure: string;
  service: string;
  baseline: string;
  ratio: string;
  target: string;
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : 'n/a';

/** The rows of one steady run: the service's lateness against the raw broker and each peer. */
function steadyRows(r: SteadyResult, p99TargetMs: number): Row[] {
  const how = r.orders === 'http' ? 'created over HTTP' : 'scheduled by the relay';
  const rows: Row[] = [];
  for (const key of ['p50', 'p99', 'max'] as const) {
    const diff = (other: number) =>
      `${r.service[key] - other >= 0 ? '+' : '−'}${fmt(Math.abs(r.service[key] - other), 1)} ms`;
    rows.push(
      {
        scenario: key === 'p50' ? `steady ${fmt(r.ratePerSecond)}/s × ${r.seconds} s, 2 s window, ${how}` : '',
        figure: `lateness ${key} (ms)`,
        service: fmt(r.service[key], 1),
        baseline: `${fmt(r.raw[key], 1)} raw TTL+DLX`,
        ratio: diff(r.raw[key]),
        target: key === 'p99' ? `p99 ≤ ${p99TargetMs} ms` : '',
      },
      {
        scenario: '',
        figure: `lateness ${key} (ms)`,
        service: fmt(r.service[key], 1),
        baseline: `${fmt(r.bullmq[key], 1)} BullMQ peer (${r.peerSeconds} s)`,
        ratio: `${fmt(r.service[key] / r.bullmq[key], 2)}×`,
        target: '',
      },
      {
        scenario: '',
        figure: `lateness ${key} (ms)`,
        service: fmt(r.service[key], 1),
        baseline: `${fmt(r.polling[key], 1)} polling peer (${r.peerSeconds} s)`,
        ratio: `${fmt(r.service[key] / r.polling[key], 2)}×`,
        target: '',
      },
    );
  }
  if (r.apart)
    rows.push({
      scenario: '',
      figure: 'lateness p50 / p99 / max (ms), roles apart',
      service: `${fmt(r.apart.p50, 1)} / ${fmt(r.apart.p99, 1)} / ${fmt(r.apart.max, 1)}`,
      baseline: 'SERVICE_ROLES=api takes the orders, SERVICE_ROLES=closer closes',
      ratio: '',
      target: `p99 ≤ ${p99TargetMs} ms`,
    });
  rows.push({
    scenario: '',
    figure: 'closed early',
    service: String(r.service.early + (r.apart?.early ?? 0)),
    baseline: '',
    ratio: '',
    target: '0',
  });
  return rows;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const results: Record<string, unknown> = {};
  /** Plots written by this run (bench/…). */
  const written: string[] = [];
  const overview = await management<{ rabbitmq_version: string }>('/overview');
  const machine = {
    cores: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 1e9),
    node: process.version,
    rabbitmq: overview.rabbitmq_version,
  };
  log(`machine: ${JSON.stringify(machine)}${quick ? ' (quick run)' : ''}`);

  let rawBatchedSeconds20k: number | undefined;
  const backlogN = quick ? 5000 : 20_000;
  if (wants('backlog') || wants('burst')) {
    const r = await backlogDrain(backlogN);
    results.backlog = r;
    rawBatchedSeconds20k = r.rawBatchedSeconds;
    rows.push(
      {
        scenario: `backlog drain (${fmt(backlogN)} due)`,
        figure: 'closes/s',
        service: fmt(r.serviceClosesPerSecond),
        baseline: `${fmt(r.rawPerOrderClosesPerSecond)} raw per-order (8 conns)`,
        ratio: `${fmt(r.serviceClosesPerSecond / r.rawPerOrderClosesPerSecond, 2)}×`,
        target: '≥ 1.0×, aim 1.5×',
      },
      {
        scenario: '',
        figure: 'closes/s',
        service: fmt(r.serviceClosesPerSecond),
        baseline: `${fmt(r.rawBatchedClosesPerSecond)} raw batched (8 conns)`,
        ratio: `${fmt(r.serviceClosesPerSecond / r.rawBatchedClosesPerSecond, 2)}×`,
        target: '',
      },
      {
        scenario: '',
        figure: 'closes/s',
        service: fmt(r.serviceClosesPerSecond),
        baseline: `${fmt(r.pollingPeerClosesPerSecond)} polling peer (4 lanes × 500, SKIP LOCKED; service: 4 drain lanes × 500, message batches waiting)`,
        ratio: `${fmt(r.serviceClosesPerSecond / r.pollingPeerClosesPerSecond, 2)}×`,
        target: '≥ 1.0×',
      },
      {
        scenario: '',
        figure: 'closes/s',
        service: fmt(r.serviceClosesPerSecond),
        baseline: `${fmt(r.bullmqPeerClosesPerSecond)} BullMQ peer (a job per order, 8 at a time)`,
        ratio: `${fmt(r.serviceClosesPerSecond / r.bullmqPeerClosesPerSecond, 2)}×`,
        target: '',
      },
    );
  }
  for (const [name, rate] of [
    ['steady', 200],
    ['steady1000', 1000],
  ] as const) {
    if (!wants(name)) continue;
    const r =
      rate === 200
        ? await steadyLateness(200, quick ? 15 : 60, quick ? 10 : 30)
        : await steadyScheduled(1000, quick ? 10 : 20);
    results[name] = {
      ...r,
      samples: undefined,
      apartSamples: undefined,
      rawSamples: undefined,
      pollingSamples: undefined,
      bullmqSamples: undefined,
    };
    const plot = rate === 200 ? 'lateness.svg' : 'lateness-1000.svg';
    written.push(plot);
    writeFileSync(
      path.join(ROOT, 'bench', plot),
      latenessSvg(
        [
          { name: 'service', color: '#1f5fbf', samples: r.samples },
          ...(r.apartSamples ? [{ name: 'service, roles apart', color: '#8a4fd0', samples: r.apartSamples }] : []),
          { name: 'raw TTL + dead-lettering', color: '#999', samples: r.rawSamples },
          { name: 'BullMQ peer', color: '#d0504a', samples: r.bullmqSamples },
          { name: 'polling peer (every 1 s)', color: '#3a9a4a', samples: r.pollingSamples },
        ],
        `Close lateness at ${fmt(rate)} orders/s, 2 s window (${r.orders === 'http' ? 'created over HTTP' : 'scheduled by the relay'})`,
      ),
    );
    rows.push(...steadyRows(r, rate === 200 ? 25 : 50));
  }
  if (wants('burst')) {
    const n = quick ? 5000 : 20_000;
    const sqlSeconds = ((rawBatchedSeconds20k ?? 0) * n) / backlogN;
    const r = await burst(n, sqlSeconds);
    results.burst = r;
    const baseline = r.rawDeadLetterSeconds + r.rawBatchedSqlSeconds;
    rows.push({
      scenario: `burst (${fmt(n)} same deadline)`,
      figure: 'deadline → last closed (s)',
      service: fmt(r.serviceSeconds, 2),
      baseline: `${fmt(baseline, 2)} raw (${fmt(r.rawDeadLetterSeconds, 2)} DLX + ${fmt(r.rawBatchedSqlSeconds, 2)} SQL)`,
      ratio: `${fmt(r.serviceSeconds / baseline, 2)}×`,
      target: '≤ 0.5×',
    });
    rows.push({
      scenario: '',
      figure: 'deadline → last closed (s)',
      service: fmt(r.serviceSeconds, 2),
      baseline: `${fmt(r.pollingPeerSeconds, 2)} polling peer (every 1 s, 4 lanes × 500)`,
      ratio: `${fmt(r.serviceSeconds / r.pollingPeerSeconds, 2)}×`,
      target: '≤ 0.8×',
    });
    rows.push({
      scenario: '',
      figure: 'deadline → last closed (s)',
      service: fmt(r.serviceSeconds, 2),
      baseline: `${fmt(r.bullmqPeerSeconds, 2)} BullMQ peer (a delayed job per order, 8 at a time)`,
      ratio: `${fmt(r.serviceSeconds / r.bullmqPeerSeconds, 2)}×`,
      target: '',
    });
  }
  for (const [name, products, target] of [
    ['create', PRODUCTS, 2000],
    ['hot', 1, 1500],
  ] as const) {
    if (!wants(name)) continue;
    const r = await createRate(quick ? 5 : 15, 32, products);
    results[name] = r;
    rows.push(
      {
        scenario: `create, ${r.connections} connections, ${products === 1 ? 'one hot product' : `spread over ${products} products`}`,
        figure: 'orders/s',
        service: fmt(r.service.ordersPerSecond),
        baseline: `${fmt(r.raw.ordersPerSecond)} raw SQL`,
        ratio: `${fmt(r.service.ordersPerSecond / r.raw.ordersPerSecond, 2)}×`,
        target: `≥ ${fmt(target)}/s, none failing`,
      },
      {
        scenario: '',
        figure: 'latency p50 / p99 (ms)',
        service: `${fmt(r.service.p50Ms, 1)} / ${fmt(r.service.p99Ms, 1)}`,
        baseline: `${fmt(r.raw.p50Ms, 1)} / ${fmt(r.raw.p99Ms, 1)} raw`,
        ratio: '',
        target: 'p99 ≤ 50 ms',
      },
      { scenario: '', figure: 'not 201', service: fmt(r.service.non2xx), baseline: '', ratio: '', target: '0' },
    );
  }
  if (wants('holds')) {
    const r = await holdsRates(quick ? 5 : 10, quick ? 5000 : 10_000, quick ? 1 : 3);
    results.holds = r;
    rows.push(
      {
        scenario: `create, ${r.connections} conns, coupon + promotion + points (median of ${r.rounds})`,
        figure: 'orders/s',
        service: fmt(r.create.holdsPerSecond),
        baseline: `${fmt(r.create.plainPerSecond)} stock only, same run`,
        ratio: `${fmt(r.create.holdsPerSecond / r.create.plainPerSecond, 2)}×`,
        target: '≥ 0.75×',
      },
      {
        scenario: '',
        figure: 'latency p99 (ms)',
        service: fmt(r.create.holdsP99Ms, 1),
        baseline: `${fmt(r.create.plainP99Ms, 1)} stock only`,
        ratio: '',
        target: '',
      },
      {
        scenario: `backlog drain (${fmt(r.backlog)}), coupon + promotion + points (median of ${r.rounds})`,
        figure: 'closes/s',
        service: fmt(r.close.holdsPerSecond),
        baseline: `${fmt(r.close.plainPerSecond)} stock only, same run`,
        ratio: `${fmt(r.close.holdsPerSecond / r.close.plainPerSecond, 2)}×`,
        target: '≥ 0.75×',
      },
    );
  }
  if (wants('events')) {
    const r = await eventsRates(quick ? 5 : 10, quick ? 5000 : 10_000, quick ? 1 : 3);
    results.events = r;
    const { on, off } = r.create;
    const sameRun = (value: number, baseline: number) => ({
      service: fmt(value),
      baseline: `${fmt(baseline)} events off, same run`,
      ratio: `${fmt(value / baseline, 2)}×`,
      target: '≥ 0.8×',
    });
    const median = `(median of ${r.rounds})`;
    rows.push(
      {
        scenario: `create, ${r.connections} conns, events + 1 webhook URL on vs off ${median}`,
        figure: 'orders/s',
        ...sameRun(on.perSecond, off.perSecond),
      },
      {
        scenario: '',
        figure: 'latency p99 (ms)',
        service: fmt(on.p99Ms, 1),
        baseline: `${fmt(off.p99Ms, 1)} events off`,
        ratio: '',
        target: '',
      },
      {
        scenario: `backlog drain (${fmt(r.backlog)}), events + 1 webhook URL on vs off ${median}`,
        figure: 'closes/s',
        ...sameRun(r.close.onPerSecond, r.close.offPerSecond),
      },
      {
        scenario: '',
        figure: 'closed events confirmed/s',
        service: fmt(r.close.onEventsPerSecond),
        baseline: 'first close → last confirm',
        ratio: '',
        target: '',
      },
      {
        scenario: '',
        figure: 'closed events delivered to the webhook/s',
        service: fmt(r.close.onWebhooksPerSecond),
        baseline: 'first close → last delivery',
        ratio: '',
        target: '',
      },
    );
  }
  if (wants('overload')) {
    const r = await overload(1000, quick ? 8 : 15);
    results.overload = r;
    const answers = (run: OverloadRun) =>
      Object.entries(run.responses)
        .filter(([, n]) => n > 0)
        .map(([code, n]) => `${code}: ${fmt(n)}`)
        .join(', ');
    rows.push(
      {
        scenario: `overload: ${fmt(r.offeredPerSecond)} creates/s offered for ${r.seconds} s, ${r.connections} conns`,
        figure: 'answers',
        service: answers(r.shedding),
        baseline: `${answers(r.unbounded)} (no shedding)`,
        ratio: '',
        target: '201 or 503 only',
      },
      {
        scenario: '',
        figure: 'created/s; answer p99 (ms)',
        service: `${fmt(r.shedding.createdPerSecond)}; ${fmt(r.shedding.p99Ms)}`,
        baseline: `${fmt(r.unbounded.createdPerSecond)}; ${fmt(r.unbounded.p99Ms)}`,
        ratio: '',
        target: '',
      },
      {
        scenario: '',
        figure: 'close lateness meanwhile p50 / p99 (ms)',
        service: `${fmt(r.shedding.lateness.p50Ms)} / ${fmt(r.shedding.lateness.p99Ms)}`,
        baseline: `${fmt(r.unbounded.lateness.p50Ms)} / ${fmt(r.unbounded.lateness.p99Ms)}`,
        ratio: '',
        target: 'p99 ≤ 100',
      },
      {
        scenario: 'overload, roles apart: SERVICE_ROLES=api takes it, SERVICE_ROLES=closer closes',
        figure: 'answers; created/s; close lateness p50 / p99 (ms)',
        service: `${answers(r.split)}; ${fmt(r.split.createdPerSecond)}; ${fmt(r.split.lateness.p50Ms)} / ${fmt(r.split.lateness.p99Ms)}`,
        baseline: 'one process: the rows above',
        ratio: '',
        target: 'p99 ≤ 100',
      },
      {
        scenario: '',
        figure: 'stock + held + sold − received',
        service: `${fmt(r.shedding.stockDifference)} (roles apart: ${fmt(r.split.stockDifference)})`,
        baseline: fmt(r.unbounded.stockDifference),
        ratio: '',
        target: '0',
      },
    );
  }
  if (wants('capacity')) {
    const n = Number(argValue('--capacity-orders') ?? 1_000_000);
    const r = await pendingCapacity(n);
    results.capacity = r;
    rows.push(
      {
        scenario: `pending capacity (${fmt(n)})`,
        figure: 'queue memory per pending order (bytes)',
        service: fmt(r.queueBytesPerOrder),
        baseline: '',
        ratio: '',
        target: '< 1,000',
      },
      {
        scenario: '',
        figure: 'node memory growth per order (bytes)',
        service: fmt(r.brokerBytesPerOrder),
        baseline: `${fmt(r.messagesInQueues)} messages queued`,
        ratio: '',
        target: '',
      },
      {
        scenario: '',
        figure: 'service RSS idle → after (MB)',
        service: `${fmt(r.serviceRssIdleMb)} → ${fmt(r.serviceRssAfterMb)}`,
        baseline: '',
        ratio: '',
        target: 'flat',
      },
    );
  }

  const cols = ['scenario', 'figure', 'service', 'baseline', 'ratio', 'target'] as const;
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
  const line = (r: Record<string, string>) => `| ${cols.map((c, i) => r[c]!.padEnd(widths[i]!)).join(' | ')} |`;
  const table = [
    line(Object.fromEntries(cols.map((c) => [c, c]))),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map((r) => line(r as unknown as Record<string, string>)),
  ].join('\n');
  process.stdout.write(`\n${table}\n`);
  mkdirSync(path.join(ROOT, 'bench'), { recursive: true });
  writeFileSync(
    path.join(ROOT, 'bench', 'results.json'),
    `${JSON.stringify({ date: new Date().toISOString(), quick, machine, results, table: rows }, null, 2)}\n`,
  );
  log(`wrote bench/results.json${written.map((f) => ` and bench/${f}`).join('')}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
