/**
 * `AMQP_URL` may name every node of one RabbitMQ cluster, comma-separated (contract §11). These helpers read
 * such a list; a single URL is a list of one.
 */

/** The URLs of a comma-separated list, trimmed, empty entries dropped (a trailing comma is harmless). */
export function splitUrlList(value: string): string[] {
  return value
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
}

/** A URL with its password replaced, fit for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}

/** Every URL of a list redacted, joined back with commas. */
export const redactUrlList = (value: string): string => splitUrlList(value).map(redactUrl).join(',');

/** `host:port` of an AMQP URL (port 5672, or 5671 for amqps, when it names none): which node, for logs. */
export function nodeAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === 'amqps:' ? '5671' : '5672')}`;
  } catch {
    return '<unparseable url>';
  }
}

/** The vhost an AMQP URL names (`/` when its path is empty). */
export function vhostOf(amqpUrl: string): string {
  const path = new URL(splitUrlList(amqpUrl)[0] ?? amqpUrl).pathname;
  return path.length > 1 ? decodeURIComponent(path.slice(1)) : '/';
}

/**
 * What is wrong with one entry of an `AMQP_URL` list, if anything. All entries must name the same vhost and user:
 * they are nodes of one cluster, and a node the service fails over to must hold the same queues.
 */
export function urlListProblems(value: string): string[] {
  const urls = splitUrlList(value);
  if (urls.length === 0) return ['names no broker'];
  const problems: string[] = [];
  const seen = new Set<string>();
  urls.forEach((url, i) => {
    const where = urls.length > 1 ? `entry ${i + 1} (${redactUrl(url)}) ` : '';
    if (!/^amqps?:\/\//.test(url)) return problems.push(`${where}must start with amqp:// or amqps://`);
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return problems.push(`${where}is not a valid URL`);
    }
    if (!u.hostname) return problems.push(`${where}names no host`);
    seen.add(`${decodeURIComponent(u.username)} on vhost ${vhostOf(url)}`);
  });
  if (problems.length === 0 && seen.size > 1)
    problems.push(`every node must use the same user and vhost (found: ${[...seen].join('; ')})`);
  return problems;
}
