import { createHash } from 'node:crypto';
import { redactUrl } from '../config';
import { webhookQueueName } from '../messaging/topology';

/** One configured webhook URL and what the service derives from it. */
export interface WebhookTarget {
  /** Position in `WEBHOOK_URLS`: the metrics label (a URL may carry credentials, and would be unbounded). */
  index: number;
  /** Short stable id from the URL itself, so reordering `WEBHOOK_URLS` never sends a queue to another URL. */
  id: string;
  /** Its queue, `order.webhooks.url.<id>`. */
  queue: string;
  /** Where to POST: the URL without its user and password, which fetch refuses in a URL. */
  endpoint: string;
  /** The URL for logs and park headers: its password replaced. */
  shown: string;
  /** `Authorization: Basic …` when the URL carries a user, else undefined. */
  authorization?: string;
}

/** The id of a webhook URL: the first 12 hex digits of the SHA-256 of its normalized form. */
export function targetId(url: string): string {
  return createHash('sha256').update(new URL(url).href).digest('hex').slice(0, 12);
}

/** The targets of `WEBHOOK_URLS` (validated by the configuration). */
export function webhookTargets(urls: readonly string[]): WebhookTarget[] {
  return urls.map((url, index) => {
    const parsed = new URL(url);
    const user = decodeURIComponent(parsed.username);
    const password = decodeURIComponent(parsed.password);
    const endpoint = new URL(parsed.href);
    endpoint.username = '';
    endpoint.password = '';
    const id = targetId(url);
    return {
      index,
      id,
      queue: webhookQueueName(id),
      endpoint: endpoint.href,
      shown: redactUrl(url),
      authorization: user ? `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` : undefined,
    };
  });
}
