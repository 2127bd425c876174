import type { RequestHandler } from 'express';
import { AppError } from '../errors';

/** Options for {@link admission}. */
export interface AdmissionOptions {
  /** Requests served at once; more wait in line (`HTTP_MAX_IN_FLIGHT`). */
  maxInFlight: number;
  /** Longest a request waits in line for a slot before it is answered 503 (`HTTP_MAX_QUEUE_WAIT`). */
  maxQueueWaitMs: number;
  /** Most requests waiting in line; one more is answered 503 at once (default 16 × `maxInFlight`). */
  maxQueued?: number;
  /** Called for each request turned away, with why: the line was full, or its wait ran out. */
  onShed?: (reason: 'queue-full' | 'queue-timeout') => void;
  /** Requests never shed, e.g. the admin API an operator needs most when the service is overloaded. */
  exempt?: (path: string) => boolean;
}

/** Why a request got no slot: turned away (line full, wait over), or its client left while it waited. */
export type NotAdmitted = 'queue-full' | 'queue-timeout' | 'gone';

/** Seconds a client turned away is asked to wait (`Retry-After`). */
export const RETRY_AFTER_SECONDS = 1;

export const overloaded = (detail: string) =>
  new AppError(503, 'overloaded', 'Service overloaded', detail, { retryAfterSeconds: RETRY_AFTER_SECONDS });

interface Waiter {
  admit: () => void;
  leave: (why: NotAdmitted) => void;
}

/** A counting semaphore with a bounded line of waiters that each give up after a deadline or when told to. */
export class AdmissionGate {
  private inFlight = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly opts: AdmissionOptions) {}

  get busy(): number {
    return this.inFlight;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves to a release function once a slot is free, or to the reason the request gets none. The slot passes
   * straight to the next waiter on release, so a waiter is never overtaken by a newcomer. When `gone` aborts, a
   * waiting request leaves the line: its client left, and a slot given to it would never be released.
   */
  enter(gone?: AbortSignal): Promise<(() => void) | NotAdmitted> {
    if (gone?.aborted) return Promise.resolve('gone');
    if (this.inFlight < this.opts.maxInFlight) {
      this.inFlight++;
      return Promise.resolve(this.releaser());
    }
    const maxQueued = this.opts.maxQueued ?? 16 * this.opts.maxInFlight;
    if (this.waiting.length >= maxQueued) return Promise.resolve('queue-full');
    return new Promise((resolve) => {
      const settle = () => {
        clearTimeout(timer);
        gone?.removeEventListener('abort', onGone);
      };
      const waiter: Waiter = {
        admit: () => {
          settle();
          resolve(this.releaser());
        },
        leave: (why) => {
          settle();
          const at = this.waiting.indexOf(waiter);
          if (at >= 0) this.waiting.splice(at, 1);
          resolve(why);
        },
      };
      const onGone = () => waiter.leave('gone');
      const timer = setTimeout(() => waiter.leave('queue-timeout'), this.opts.maxQueueWaitMs);
      gone?.addEventListener('abort', onGone, { once: true });
      this.waiting.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.admit();
      else this.inFlight--;
    };
  }
}

/**
 * Load shedding: at most `maxInFlight` requests are served at once and a short line waits for a slot; beyond
 * that, or after `maxQueueWaitMs` in line, the answer is 503 `overloaded` with `Retry-After` before any work is
 * done. It runs once the body is read, so slow uploads never hold a slot (the request timeouts deal with those).
 * Work in flight stays bounded, so latency stays bounded, and nothing is half done: a request is either served
 * whole or not started.
 */
export function admission(opts: AdmissionOptions): RequestHandler {
  const gate = new AdmissionGate(opts);
  return (req, res, next) => {
    if (opts.exempt?.(req.path)) return next();
    // A client that leaves while waiting leaves the line; an admitted request holds its slot until its response is
    // sent or its connection is gone, whichever comes first.
    const gone = new AbortController();
    const leave = () => gone.abort();
    res.once('close', leave);
    void gate.enter(gone.signal).then((outcome) => {
      res.off('close', leave);
      if (outcome === 'gone') return;
      if (typeof outcome === 'string') {
        opts.onShed?.(outcome);
        next(
          overloaded(
            outcome === 'queue-full'
              ? 'too many requests in progress; retry after the Retry-After delay'
              : `no capacity within ${opts.maxQueueWaitMs} ms; retry after the Retry-After delay`,
          ),
        );
        return;
      }
      if (res.writableEnded || res.destroyed) return outcome();
      res.once('finish', outcome);
      res.once('close', outcome);
      next();
    });
  };
}
