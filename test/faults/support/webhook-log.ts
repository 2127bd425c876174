import type { Receiver } from '../../support/webhooks';
import { verifyStandardWebhook } from '../../support/webhooks';

/** One event as a webhook receiver that dedupes on `webhook-id` keeps it: from its first 2xx delivery. */
export interface DeliveredEvent {
  id: string;
  orderId: string;
  sequence: number;
  /** When the transition committed (the event's `time`), ms since the epoch. */
  committedAt: number;
  /** When the receiver first answered 2xx for it. */
  firstAt: number;
  /** 2xx deliveries of it in all (more than 1: duplicates). */
  copies: number;
}

/**
 * What a receiver got, indexed as it comes: every request's signature checked with the test's own Standard
 * Webhooks implementation, every 2xx delivery counted per `webhook-id`. `sync()` reads the requests received since
 * the last call, so a wait can poll it cheaply.
 */
export class DeliveryLog {
  readonly events = new Map<string, DeliveredEvent>();
  /** Requests whose signature did not verify, or whose body's id is not their `webhook-id`. */
  readonly badRequests: string[] = [];
  /** Requests by the status the receiver answered. */
  readonly answered = new Map<string, number>();
  private read = 0;

  constructor(
    private readonly receiver: Receiver,
    private readonly secret: string,
  ) {}

  sync(): this {
    const { received } = this.receiver;
    for (; this.read < received.length; this.read++) {
      const hook = received[this.read]!;
      const id = String(hook.headers['webhook-id']);
      const body = JSON.parse(hook.body) as { id: string; subject: string; sequence: string; time: string };
      if (!verifyStandardWebhook(this.secret, hook.headers, hook.body) || body.id !== id)
        this.badRequests.push(`request ${this.read} (webhook-id ${id})`);
      const status = String(hook.answered);
      this.answered.set(status, (this.answered.get(status) ?? 0) + 1);
      if (!/^2\d\d$/.test(status)) continue;
      const known = this.events.get(id);
      if (known) known.copies++;
      else
        this.events.set(id, {
          id,
          orderId: body.subject,
          sequence: Number(body.sequence),
          committedAt: Date.parse(body.time),
          firstAt: hook.at,
          copies: 1,
        });
    }
    return this;
  }

  /** 2xx deliveries beyond the first of each event. */
  duplicates(): number {
    return [...this.events.values()].reduce((n, e) => n + e.copies - 1, 0);
  }

  /**
   * Orders whose delivered events are not exactly sequences 1..n, n being `eventSeq` (the order's count of events
   * written), as text; empty when every order's sequence is complete.
   */
  sequenceGaps(eventSeq: ReadonlyMap<string, number>): string[] {
    const seen = new Map<string, number[]>();
    for (const e of this.events.values()) seen.set(e.orderId, [...(seen.get(e.orderId) ?? []), e.sequence]);
    const gaps: string[] = [];
    for (const [orderId, n] of eventSeq) {
      const got = (seen.get(orderId) ?? []).sort((a, b) => a - b);
      if (got.length !== n || got.some((s, i) => s !== i + 1))
        gaps.push(`order ${orderId}: delivered #${got.join(',#')} of ${n}`);
    }
    return gaps;
  }
}
