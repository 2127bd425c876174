import type { ManagementApi } from './management-api';
import type { Topology } from './topology';

export interface TopologyDifference {
  object: string;
  problem: string;
}

interface LiveQueue {
  name: string;
  arguments: Record<string, unknown>;
  durable: boolean;
}
interface LiveBinding {
  source: string;
  destination: string;
  destination_type: string;
  routing_key: string;
}

/** Compares the broker's vhost with the topology in code: missing objects and differing queue arguments. */
export async function checkTopology(
  api: ManagementApi,
  vhost: string,
  topology: Topology,
): Promise<TopologyDifference[]> {
  const v = encodeURIComponent(vhost);
  const diffs: TopologyDifference[] = [];
  for (const ex of topology.exchanges) {
    const live = await api.get<{ type: string }>(`/exchanges/${v}/${encodeURIComponent(ex.name)}`);
    if (!live) diffs.push({ object: `exchange ${ex.name}`, problem: 'missing' });
    else if (live.type !== ex.type)
      diffs.push({ object: `exchange ${ex.name}`, problem: `type is ${live.type}, code wants ${ex.type}` });
  }
  for (const q of topology.queues) {
    const live = await api.get<LiveQueue>(`/queues/${v}/${encodeURIComponent(q.name)}`);
    if (!live) {
      diffs.push({ object: `queue ${q.name}`, problem: 'missing' });
      continue;
    }
    const keys = new Set([...Object.keys(q.arguments), ...Object.keys(live.arguments ?? {})]);
    for (const key of [...keys].sort()) {
      const want = q.arguments[key];
      const have = live.arguments?.[key];
      if (String(want) !== String(have)) {
        diffs.push({
          object: `queue ${q.name}`,
          problem: `${key} is ${have === undefined ? 'not set' : JSON.stringify(have)}, code wants ${want === undefined ? 'it unset' : JSON.stringify(want)}`,
        });
      }
    }
  }
  const bindings = (await api.get<LiveBinding[]>(`/bindings/${v}`)) ?? [];
  for (const b of topology.bindings) {
    const found = bindings.some(
      (l) =>
        l.source === b.exchange &&
        l.destination === b.queue &&
        l.destination_type === 'queue' &&
        l.routing_key === b.routingKey,
    );
    if (!found) diffs.push({ object: `binding ${b.exchange} -> ${b.queue} (${b.routingKey})`, problem: 'missing' });
  }
  return diffs;
}
