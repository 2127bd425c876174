import { createHash, randomBytes } from 'node:crypto';
import type { Topology } from './topology';

/** A user in the definitions file: a password (hashed here) or a hash made elsewhere. */
export interface DefinitionsUser {
  name: string;
  /** Hashed here with a random salt (a fixed one for the published {@link LOCAL_USERS} passwords). */
  password?: string;
  /** A `rabbit_password_hashing_sha256` hash (what `rabbitmqctl hash_password` prints), used as is. */
  passwordHash?: string;
}

/** Options for {@link buildDefinitions}. */
export interface DefinitionsOptions {
  /** The vhost the objects live in (default `/`). */
  vhost?: string;
  /** The service's own user: no tags, permissions limited to {@link SERVICE_PERMISSIONS} (default `LOCAL_USERS.service`). */
  service?: DefinitionsUser;
  /** An administrator for people (management UI) and the test suite (default `LOCAL_USERS.admin`); false for none. */
  admin?: DefinitionsUser | false;
}

/**
 * The users of the local docker compose stack; the file committed as `rabbitmq-definitions.json` has these.
 * Their passwords are published here, so their hashes use a fixed salt and the file stays the same on every export.
 */
export const LOCAL_USERS = {
  service: { name: 'order-timeout', password: 'order-timeout-mq-local' },
  admin: { name: 'admin', password: 'admin-local' },
} as const;

/**
 * What the service needs on its vhost. It declares, binds, publishes to and consumes only objects named
 * `order.…` (src/messaging/topology.ts), plus two uses of the default exchange, which permission checks call
 * `amq.default`: parking a message (published to it) and `order.timeout`'s dead-lettering into it (declaring a
 * queue with a dead-letter exchange needs write on that exchange).
 */
export const SERVICE_PERMISSIONS = { configure: '^order\\.', write: '^(order\\..*|amq\\.default)$', read: '^order\\.' };

const HASH_BYTES = 4 + 32;

/** RabbitMQ's rabbit_password_hashing_sha256: base64(salt ++ sha256(salt ++ password)), with a 4-byte salt. */
export function hashPassword(password: string, salt: Buffer = randomBytes(4)): string {
  const digest = createHash('sha256')
    .update(Buffer.concat([salt, Buffer.from(password, 'utf8')]))
    .digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

/** Whether a string is a rabbit_password_hashing_sha256 hash. */
export function isPasswordHash(hash: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(hash) && Buffer.from(hash, 'base64').length === HASH_BYTES;
}

function userHash(user: DefinitionsUser): string {
  if (user.passwordHash !== undefined) {
    if (!isPasswordHash(user.passwordHash))
      throw new Error(`the password hash of ${user.name} is not a rabbit_password_hashing_sha256 hash`);
    return user.passwordHash;
  }
  if (!user.password) throw new Error(`${user.name} needs a password or a password hash`);
  const local = Object.values(LOCAL_USERS).find((u) => u.name === user.name && u.password === user.password);
  return hashPassword(
    user.password,
    local ? createHash('sha256').update(`order-timeout:${user.name}`).digest().subarray(0, 4) : undefined,
  );
}

/** The topology as a RabbitMQ definitions file: what a fresh broker needs to load at boot (`load_definitions`). */
export function buildDefinitions(topology: Topology, opts: DefinitionsOptions = {}) {
  const vhost = opts.vhost ?? '/';
  const service = opts.service ?? LOCAL_USERS.service;
  const admin = opts.admin === undefined ? LOCAL_USERS.admin : opts.admin;
  if (admin && admin.name === service.name)
    throw new Error(`the service and the administrator are both ${service.name}`);
  const user = (u: DefinitionsUser, tags: string[]) => ({
    name: u.name,
    password_hash: userHash(u),
    hashing_algorithm: 'rabbit_password_hashing_sha256',
    tags,
    limits: {},
  });
  return {
    rabbit_version: '3.10.8',
    rabbitmq_version: '3.10.8',
    users: [user(service, []), ...(admin ? [user(admin, ['administrator'])] : [])],
    vhosts: [{ name: vhost }],
    permissions: [
      { user: service.name, vhost, ...SERVICE_PERMISSIONS },
      ...(admin ? [{ user: admin.name, vhost, configure: '.*', write: '.*', read: '.*' }] : []),
    ],
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
