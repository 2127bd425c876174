import { rawCreate } from '../raw-baselines';
import { createScratch, log, postOrders, seedProducts, startServiceProcess, PRODUCTS } from '../support';

export interface CreateResult {
  connections: number;
  /** Products the orders are spread over: 1 is a flash sale's hot product, every buyer on one stock row. */
  products: number;
  seconds: number;
  service: { ordersPerSecond: number; p50Ms: number; p99Ms: number; non2xx: number };
  raw: { ordersPerSecond: number; p50Ms: number; p99Ms: number };
}

/**
 * 4. Create: POST /orders with 32 connections spread over `products` products (1: a hot product), against raw SQL
 * doing the same transaction with 32 connections on the same products.
 */
export async function createRate(seconds: number, connections = 32, products = PRODUCTS): Promise<CreateResult> {
  const scratch = await createScratch(connections);
  try {
    await seedProducts(scratch.pool, 'general');
    const service = await startServiceProcess(scratch);
    log(`create: autocannon, ${connections} connections, ${seconds} s, POST /orders over ${products} product(s)`);
    const result = await postOrders(service.port, connections, seconds, (n) => ({
      customerId: 'bench',
      items: [{ productId: String(1 + ((n - 1) % products)), quantity: 1 }],
    }));
    await service.stop();
    log(`create: raw SQL, ${connections} connections, ${seconds} s, over ${products} product(s)`);
    const raw = await rawCreate(scratch.pool, connections, seconds * 1000, products);
    return {
      connections,
      products,
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
