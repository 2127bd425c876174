import type { WebhookTarget } from './targets';

/** How one delivery attempt ended: 2xx, or why not (an HTTP status or the error, without the URL). */
export type AttemptOutcome =
  { delivered: true; status: number } | { delivered: false; reason: string; aborted?: boolean };

/** One signed POST: the target, the structured event, its signature headers. */
export interface WebhookRequest {
  target: WebhookTarget;
  body: string;
  headers: Record<string, string>;
  /** Longest the attempt may take, connecting and the response headers included. */
  timeoutMs: number;
  /** Aborts the attempt at once (the process is stopping). */
  stop: AbortSignal;
}

/** The low-level cause of a fetch failure (`ECONNREFUSED`, `UND_ERR_SOCKET`…), which fetch wraps as "fetch failed". */
function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const message = typeof cause?.message === 'string' ? cause.message : err instanceof Error ? err.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * POSTs one event. Redirects are not followed (a 3xx is a failure, as Standard Webhooks advises: the URL should
 * be updated instead), and the response body is not read: only the status counts.
 */
export async function sendWebhook(req: WebhookRequest): Promise<AttemptOutcome> {
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = AbortSignal.any([timeout, req.stop]);
  try {
    const res = await fetch(req.target.endpoint, {
      method: 'POST',
      redirect: 'manual',
      signal,
      headers: {
        'content-type': 'application/cloudevents+json',
        'user-agent': 'order-timeout-webhooks',
        ...(req.target.authorization ? { authorization: req.target.authorization } : {}),
        ...req.headers,
      },
      body: req.body,
    });
    await res.body?.cancel().catch(() => undefined);
    return res.status >= 200 && res.status < 300
      ? { delivered: true, status: res.status }
      : { delivered: false, reason: `HTTP ${res.status}` };
  } catch (err) {
    if (req.stop.aborted) return { delivered: false, reason: 'stopped', aborted: true };
    if (timeout.aborted) return { delivered: false, reason: `no answer within ${req.timeoutMs} ms` };
    return { delivered: false, reason: `connection failed: ${causeOf(err)}` };
  }
}
