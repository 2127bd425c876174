import { exec } from 'node:child_process';
import { promisify } from 'node:util';
import { privateBroker, privateDatabase, type PrivateBroker } from '../../support/private-services';

/**
 * A three-node RabbitMQ cluster of the cluster scenarios' own (test/faults/cluster): node names, ports and
 * directories no other suite uses (AMQP 5680-5682, management 15680-15682, distribution 25680-25682, under
 * /tmp/order-timeout-cluster), so a node can be killed, cut off or restarted without touching the machine's
 * broker or the fault suite's single node. The nodes run as the rabbitmq user and share its Erlang cookie. A
 * MariaDB of their own too (port 3308), so the cluster scenarios never stop the fault suite's (3307) while someone
 * runs that suite on the same machine.
 */
const ROOT = '/tmp/order-timeout-cluster';
const SIZE = 3;

const sh = async (cmd: string) => (await promisify(exec)(cmd, { timeout: 120_000 })).stdout;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

export const clusterNodes: PrivateBroker[] = Array.from({ length: SIZE }, (_, i) =>
  privateBroker({
    node: `otcluster${i + 1}@localhost`,
    dir: `${ROOT}/node${i + 1}`,
    amqpPort: 5680 + i,
    managementPort: 15680 + i,
    distPort: 25680 + i,
  }),
);

export const clusterDatabase = privateDatabase({ dir: `${ROOT}/mariadb`, port: 3308 });

const managementPort = (node: PrivateBroker) => 15680 + clusterNodes.indexOf(node);
export const nodeByName = (name: string): PrivateBroker => {
  const node = clusterNodes.find((n) => n.node === name);
  if (!node) throw new Error(`no cluster node named ${name}`);
  return node;
};

/** GET on the management API of the first node that answers (any node sees the whole cluster). */
export async function clusterApi<T>(path: string): Promise<T> {
  let last: unknown;
  for (const node of clusterNodes) {
    try {
      const res = await fetch(`http://127.0.0.1:${managementPort(node)}/api${path}`, {
        headers: { authorization: auth },
        signal: AbortSignal.timeout(5_000),
      });
      if (res.ok) return (await res.json()) as T;
      last = new Error(`${path}: ${res.status}`);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

/** Every node of the cluster running, as the cluster itself reports it. */
export const allRunning = () =>
  until(`all ${SIZE} cluster nodes to run`, async () => {
    const nodes = await clusterApi<{ name: string; running: boolean }[]>('/nodes');
    return nodes.length === SIZE && nodes.every((n) => n.running);
  });

/** Starts three fresh nodes and joins the second and third to the first. */
export async function startCluster(): Promise<void> {
  await Promise.all(clusterNodes.map((n) => n.start()));
  for (const node of clusterNodes.slice(1)) {
    await node.stopApp();
    await sh(`rabbitmqctl -n ${node.node} join_cluster ${clusterNodes[0]!.node}`);
    await node.startApp();
  }
  await allRunning();
}

export async function stopCluster(): Promise<void> {
  await Promise.all(clusterNodes.map((n) => n.stop()));
}

/** The URLs of every node for one vhost, comma-separated: what the service gets as AMQP_URL. */
export async function clusterVhost(name: string): Promise<string> {
  const first = await clusterNodes[0]!.vhost(name);
  const path = new URL(first).pathname;
  return clusterNodes.map((n) => `${n.amqpUrl}${path}`).join(',');
}

export interface QueueState {
  leader: string;
  members: string[];
  online?: string[];
  messages: number;
  messages_ready?: number;
  messages_unacknowledged?: number;
  /** Dead-lettered at least once, waiting for the target queue's confirm. */
  messages_dlx?: number;
  consumers?: number;
}

export const queueState = (vhost: string, queue: string) =>
  clusterApi<QueueState>(`/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`);

/** The nodes the vhost's AMQP connections are on. */
export async function connectionNodes(vhost: string): Promise<string[]> {
  const conns = await clusterApi<{ node: string; vhost: string }[]>('/connections');
  return conns.filter((c) => c.vhost === vhost).map((c) => c.node);
}

/** kill -9 of a node, then (after `downMs`) starts it again on its data; resolves once it has rejoined. */
export async function killAndRestart(node: PrivateBroker, downMs: number): Promise<void> {
  await node.kill();
  await sleep(downMs);
  await node.start(true);
  await allRunning();
}

/**
 * Restarts every node in turn, as an upgrade would: a clean shutdown, a start on its data, and the next node only
 * once stopping it would not leave a quorum queue without a majority.
 */
export async function rollingRestart(onNode?: (node: PrivateBroker) => void): Promise<void> {
  for (const node of clusterNodes) {
    await until(`${node.node} to be safe to stop`, async () => {
      await sh(`rabbitmq-diagnostics -q -n ${node.node} check_if_node_is_quorum_critical`);
      return true;
    });
    onNode?.(node);
    await sh(`rabbitmqctl -n ${node.node} shutdown`);
    await node.start(true);
    await allRunning();
  }
}
