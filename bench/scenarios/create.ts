import { rawCreate } from '../raw-baselines';
import { createScratch, log, postOrders, seedProducts, startServiceProcess, PRODUCTS } from '../support';

export interface CreateResult {
  connections: number;
  seconds: number;
  service: { ordersPerSecond: number; p50Ms: number; p99Ms: number; non2xx: number };
  raw: { ordersPerSecond: number; p50Ms: number; p99Ms: number };
}

/** 4. Create: POST /orders with 32 connections, against raw SQL doing the same transaction with 32 connections. */
export async function createRate(seconds: number, connections = 32): Promise<CreateResult> {
  const scratch = await createScratch(connections);
  try {
    await seedProducts(scratch.pool, 'general');
    const service = await startServiceProcess(scratch);
    log(`create: autocannon, ${connections} connections, ${seconds} s, POST /orders`);
    const result = await postOrders(service.port, connections, seconds, (n) => ({
      customerId: 'bench',
      items: [{ productId: String(1 + ((n - 1) % PRODUCTS)), quantity: 1 }],
    }));
    await service.stop();
    log(`create: raw SQL, ${connections} connections, ${seconds} s`);
    const raw = await rawCreate(scratch.pool, connections, seconds * 1000);
    return {
      connections,
      seconds,
      service: {
        ordersPerSecond: result['2xx'] / seconds,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        non2xx: result.non2xx,
      },
      raw: { ordersPerSecond: raw.count / raw.seconds, p50Ms: raw.p50, p99Ms: raw.p99 },
    };
  } finally {
    await scratch.destroy();
  }
}
