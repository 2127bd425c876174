import { splitUrlList } from '../broker-urls';

export { vhostOf } from '../broker-urls';

/** A minimal RabbitMQ management API client (what `topology check` and operators' tooling need). */
export class ManagementApi {
  private readonly base: string;
  private readonly auth: string;

  /**
   * `managementUrl` may carry credentials; otherwise those of `amqpUrl` are used (of its first node when it is a
   * list: every node of one cluster has the same users).
   */
  constructor(managementUrl: string, amqpUrl: string) {
    const mgmt = new URL(managementUrl);
    const amqp = new URL(splitUrlList(amqpUrl)[0] ?? amqpUrl);
    const user = decodeURIComponent(mgmt.username || amqp.username || 'guest');
    const pass = decodeURIComponent(mgmt.password || amqp.password || 'guest');
    this.auth = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    this.base = `${mgmt.protocol}//${mgmt.host}${mgmt.pathname.replace(/\/$/, '')}/api`;
  }

  /** GET a path; undefined on 404. */
  async get<T>(path: string): Promise<T | undefined> {
    let res: Response;
    try {
      res = await fetch(this.base + path, { headers: { authorization: this.auth } });
    } catch (err) {
      throw new Error(`RabbitMQ management API unreachable at ${this.base}: ${(err as Error).message}`, { cause: err });
    }
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`RabbitMQ management API answered ${res.status} for ${path}`);
    return (await res.json()) as T;
  }
}
