import {
  createScratch,
  log,
  management,
  rssOf,
  seedOrders,
  seedProducts,
  sleep,
  startServiceProcess,
  waitForScheduled,
} from '../support';

export interface CapacityResult {
  orders: number;
  /** Memory of the vhost's queue processes per pending order (robust to other activity on the node). */
  queueBytesPerOrder: number;
  /** Growth of the whole node's memory per pending order. */
  brokerBytesPerOrder: number;
  messagesInQueues: number;
  brokerMemoryBeforeMb: number;
  brokerMemoryAfterMb: number;
  serviceRssIdleMb: number;
  serviceRssAfterMb: number;
}

async function brokerMemory(): Promise<number> {
  const nodes = await management<{ mem_used: number }[]>('/nodes');
  return nodes.reduce((sum, n) => sum + n.mem_used, 0);
}

/** 5. Pending capacity: N orders scheduled 6 h out; broker memory per pending order, service memory before/after. */
export async function pendingCapacity(n: number): Promise<CapacityResult> {
  const scratch = await createScratch(4);
  try {
    await seedProducts(scratch.pool, 'general');
    const service = await startServiceProcess(scratch);
    await sleep(5000);
    const rssIdle = await rssOf(service.pid);
    const before = await brokerMemory();
    log(`capacity: seeding ${n} pending orders due in 6 h; the relay schedules them as they land`);
    await seedOrders(scratch.pool, {
      firstId: 1,
      count: n,
      expiresAt: new Date(Date.now() + 6 * 3600_000),
      outbox: true,
      onProgress: (done) => {
        if (done % 100_000 === 0) log(`  capacity: ${done}/${n} seeded`);
      },
    });
    await waitForScheduled(scratch.pool, 'capacity scheduling', 3_600_000);
    await sleep(10_000); // let the broker settle its memory accounting
    const after = await brokerMemory();
    const queues = await management<{ memory?: number; messages?: number }[]>(
      `/queues/${encodeURIComponent(scratch.vhost)}`,
    );
    const queueMemory = queues.reduce((sum, q) => sum + (q.memory ?? 0), 0);
    const messagesInQueues = queues.reduce((sum, q) => sum + (q.messages ?? 0), 0);
    const rssAfter = await rssOf(service.pid);
    await service.stop();
    return {
      orders: n,
      queueBytesPerOrder: queueMemory / n,
      brokerBytesPerOrder: (after - before) / n,
      messagesInQueues,
      brokerMemoryBeforeMb: before / 1e6,
      brokerMemoryAfterMb: after / 1e6,
      serviceRssIdleMb: rssIdle / 1e6,
      serviceRssAfterMb: rssAfter / 1e6,
    };
  } finally {
    await scratch.destroy();
  }
}
