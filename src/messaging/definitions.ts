import { createHash } from 'node:crypto';
import type { Topology } from './topology';

/** Options for {@link buildDefinitions}. */
export interface DefinitionsOptions {
  /** The vhost the objects live in (default `/`). */
  vhost?: string;
  /** A user the service and operators log in as on a fresh broker (default `order-timeout`). */
  user?: string;
  /** That user's password (default `order-timeout`: for local docker compose only). */
  password?: string;
}

/** RabbitMQ's rabbit_password_hashing_sha256: base64(salt ++ sha256(salt ++ password)); a fixed salt keeps the file stable. */
function hashPassword(password: string, user: string): string {
  const salt = createHash('sha256').update(`order-timeout:${user}`).digest().subarray(0, 4);
  const digest = createHash('sha256')
    .update(Buffer.concat([salt, Buffer.from(password, 'utf8')]))
    .digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

/** The topology as a RabbitMQ definitions file: what a fresh broker needs to load at boot (`load_definitions`). */
export function buildDefinitions(topology: Topology, opts: DefinitionsOptions = {}) {
  const vhost = opts.vhost ?? '/';
  const user = opts.user ?? 'order-timeout';
  return {
    rabbit_version: '3.10.8',
    rabbitmq_version: '3.10.8',
    users: [
      {
        name: user,
        password_hash: hashPassword(opts.password ?? 'order-timeout', user),
        hashing_algorithm: 'rabbit_password_hashing_sha256',
        tags: ['administrator'],
        limits: {},
      },
    ],
    vhosts: [{ name: vhost }],
    permissions: [{ user, vhost, configure: '.*', write: '.*', read: '.*' }],
    topic_permissions: [],
    parameters: [],
    global_parameters: [],
    policies: [],
    queues: topology.queues.map((q) => ({
      name: q.name,
      vhost,
      durable: true,
      auto_delete: false,
      arguments: q.arguments,
    })),
    exchanges: topology.exchanges.map((e) => ({
      name: e.name,
      vhost,
      type: e.type,
      durable: true,
      auto_delete: false,
      internal: false,
      arguments: {},
    })),
    bindings: topology.bindings.map((b) => ({
      source: b.exchange,
      vhost,
      destination: b.queue,
      destination_type: 'queue',
      routing_key: b.routingKey,
      arguments: {},
    })),
  };
}

export function definitionsJson(topology: Topology, opts: DefinitionsOptions = {}): string {
  return `${JSON.stringify(buildDefinitions(topology, opts), null, 2)}\n`;
}
