import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import type mysql from 'mysql2/promise';
import { closeOneOrder } from './raw-baselines';

/** Where the BullMQ peer keeps its jobs (`REDIS_URL`, default the local Redis). */
const REDIS_URL = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection = { host: REDIS_URL.hostname, port: Number(REDIS_URL.port || 6379) };

/** Jobs added in one call to Redis. */
const ADD_CHUNK = 1000;

/**
 * The BullMQ peer, as a team would build the timeout instead of this service: one delayed job per order (job id =
 * `order-<id>`, delay = its deadline − now), and a worker that runs the textbook per-order close transaction
 * (compare-and-set, restock, event) on the same database, `concurrency` jobs at a time. Its queue has a name of its
 * own in Redis and is removed by {@link BullmqPeer.destroy}.
 */
export class BullmqPeer {
  private readonly queue: Queue;
  private worker?: Worker;
  /** The first job that failed: the peer's figures would be wrong, so waiting for its closes stops at once. */
  failure?: Error;

  constructor(private readonly pool: mysql.Pool) {
    this.queue = new Queue(`order-timeout-bench-${randomBytes(4).toString('hex')}`, { connection });
  }

  /** Adds one delayed job per order, due at `dueAt(id)`. */
  async schedule(ids: readonly number[], dueAt: (id: number) => Date): Promise<void> {
    for (let i = 0; i < ids.length; i += ADD_CHUNK) {
      const now = Date.now();
      await this.queue.addBulk(
        ids.slice(i, i + ADD_CHUNK).map((id) => ({
          name: 'timeout',
          data: { orderId: id },
          opts: {
            jobId: `order-${id}`, // BullMQ refuses ids that look like integers
            delay: Math.max(0, dueAt(id).getTime() - now),
            removeOnComplete: true,
            removeOnFail: 1000,
          },
        })),
      );
    }
  }

  /** Starts the worker: each job closes its order in a transaction of its own. */
  start(concurrency = 8): void {
    this.worker = new Worker(
      this.queue.name,
      async (job) => {
        const conn = await this.pool.getConnection();
        try {
          await closeOneOrder(conn, Number((job.data as { orderId: number }).orderId));
        } finally {
          conn.release();
        }
      },
      { connection, concurrency },
    );
    this.worker.on(
      'failed',
      (job, err) => (this.failure ??= new Error(`BullMQ peer job ${job?.id} failed: ${err.message}`)),
    );
    this.worker.on('error', (err) => (this.failure ??= err));
  }

  /** Stops the worker and removes the queue and its jobs from Redis. */
  async destroy(): Promise<void> {
    await this.worker?.close();
    try {
      await this.queue.obliterate({ force: true });
    } finally {
      await this.queue.close();
    }
  }
}
