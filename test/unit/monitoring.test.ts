import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics';

// deploy/prometheus/alerts.yml and deploy/grafana/order-timeout.json name only metrics that exist: the service's
// (as its registry exports them) and the RabbitMQ plugin metrics listed here. promtool tests the rules' behaviour
// (npm run test:alerts); this file checks what promtool cannot: that the names match the code.

const root = path.join(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

/** Per-object metrics of RabbitMQ's rabbitmq_prometheus plugin (labels `vhost`, `queue`) that the files use. */
const RABBITMQ_METRICS = ['rabbitmq_queue_messages_ready', 'rabbitmq_queue_messages', 'rabbitmq_queue_consumers'];

/** PromQL keywords and aggregation operators: identifiers that are not metric names. */
const PROMQL_WORDS = new Set(
  'by without on ignoring group_left group_right and or unless offset bool inf nan sum min max avg count group stddev stdvar topk bottomk quantile count_values'.split(
    ' ',
  ),
);

/**
 * The metric names an expression selects. Strings, label matchers, ranges and label lists go first; what is left
 * is numbers, operators, keywords, functions (an identifier before `(`) and metric names.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const [token, call] of bare.matchAll(/[0-9][\w.+-]*|[A-Za-z_:][\w:]*(\s*\()?/g)) {
    if (/^[0-9]/.test(token) || call || PROMQL_WORDS.has(token)) continue;
    names.add(token);
  }
  return [...names];
}

/** Every series name the service's registry exports, with a histogram's `_bucket`, `_sum` and `_count`. */
async function exportedNames(): Promise<Set<string>> {
  const metrics = createMetrics({
    outboxBacklog: async () => ({ waiting: 0, oldestAgeMs: 0, oldestEventAgeMs: 0 }),
    readiness: { broker: () => true, 'broker-topology': () => true, database: () => true },
    closerConsumers: () => 1,
  });
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

function unknownNames(exprs: string[], exported: Set<string>): string[] {
  const names = exprs.flatMap(metricNames);
  expect(names.length).toBeGreaterThan(0);
  return names.filter((n) => !exported.has(n) && !RABBITMQ_METRICS.includes(n));
}

/** GitHub's anchors for the headings of a Markdown file. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6} (.+)$/gm))
    out.add(
      heading!
        .trim()
        .toLowerCase()
        .replace(/[^\w\- ]/g, '')
        .replace(/ /g, '-'),
    );
  return out;
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}

const rules = (parse(read('deploy/prometheus/alerts.yml')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
  (g) => g.rules,
);
const dashboard = JSON.parse(read('deploy/grafana/order-timeout.json'));
const panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[] }[] =
  dashboard.panels.filter((p: { type: string }) => p.type !== 'row');

describe('metric names in PromQL', () => {
  it('when an expression is read, then only the metrics it selects are named, not functions, keywords, labels or durations', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{job=~"$job",x="rate(b)"}[$__rate_interval]))) > 1e3',
      ),
    ).toEqual(['a_bucket']);
    expect(
      metricNames('sum without (instance) (c_total unless c_total offset 15m) or on () (d == 0) and bool e:rec'),
    ).toEqual(['c_total', 'd', 'e:rec']);
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  it('when its rules name a metric, then the service exports it or it is one of the listed RabbitMQ plugin metrics', async () => {
    expect(rules.length).toBeGreaterThan(0);
    expect(
      unknownNames(
        rules.map((r) => r.expr),
        await exportedNames(),
      ),
    ).toEqual([]);
  });

  it('when a rule is read, then it has a for, a severity, a summary, a description and a run-book in docs/operations.md', () => {
    const runbooks = anchors(read('docs/operations.md'));
    for (const rule of rules) {
      expect({ alert: rule.alert, for: rule.for }).toEqual({
        alert: rule.alert,
        for: expect.stringMatching(/^\d+[smh]$/),
      });
      expect([rule.alert, rule.labels?.severity]).toEqual([rule.alert, expect.stringMatching(/^(critical|warning)$/)]);
      expect(rule.annotations).toEqual({
        summary: expect.any(String),
        description: expect.any(String),
        runbook_url: expect.stringMatching(/^docs\/operations\.md#/),
      });
      const anchor = rule.annotations!.runbook_url!.split('#')[1]!;
      expect([rule.alert, runbooks.has(anchor)]).toEqual([rule.alert, true]);
    }
  });

  it('when the promtool tests are read, then every rule has a case that fires it and one that expects silence', () => {
    const tests = (parse(read('deploy/prometheus/alerts.test.yml')) as { tests: RuleTest[] }).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of rules) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect([alert, mine.some((c) => (c.exp_alerts ?? []).length > 0)]).toEqual([alert, true]);
      expect([alert, mine.some((c) => (c.exp_alerts ?? []).length === 0)]).toEqual([alert, true]);
    }
  });
});

describe('deploy/grafana/order-timeout.json', () => {
  it('when its panels and variables name a metric, then the service exports it or it is one of the listed RabbitMQ plugin metrics', async () => {
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    for (const v of dashboard.templating.list as { definition?: string }[]) {
      const selector = /^label_values\(([^,]+),/.exec(v.definition ?? '');
      if (selector) exprs.push(selector[1]!);
    }
    expect(unknownNames(exprs, await exportedNames())).toEqual([]);
  });

  it('when imported, then it asks for the Prometheus data source and every panel has a query on it', () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus' })]);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    for (const p of panels) {
      expect([p.title, p.datasource?.uid]).toEqual([p.title, '${DS_PROMETHEUS}']);
      expect([p.title, (p.targets ?? []).length > 0]).toEqual([p.title, true]);
    }
    const ids = dashboard.panels.map((p: { id: number }) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
