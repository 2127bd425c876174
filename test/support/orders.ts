import type { TestService } from './service';
import { eventually } from './scratch';

let skuCounter = 0;

/** Creates a product through the API and returns its id. */
export async function makeProduct(
  svc: TestService,
  opts: { category?: string; stock?: number; priceCents?: number } = {},
): Promise<string> {
  const res = await svc.api('POST', '/products', {
    sku: `sku-${process.pid}-${Date.now()}-${skuCounter++}`,
    name: 'Test product',
    category: opts.category ?? 'general',
    priceCents: opts.priceCents ?? 1000,
    stock: opts.stock ?? 100,
  });
  if (res.status !== 201) throw new Error(`product not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

export async function makeOrder(svc: TestService, productId: string, quantity = 1): Promise<any> {
  const res = await svc.api('POST', '/orders', { customerId: 'customer-1', items: [{ productId, quantity }] });
  if (res.status !== 201) throw new Error(`order not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The order row straight from the database: reading through the API would itself close an overdue order. */
export async function orderRow(
  svc: TestService,
  id: string,
): Promise<{ status: string; expires_at: Date; closed_at: Date | null }> {
  return svc.db('orders').where({ id }).first();
}

export async function stockOf(svc: TestService, productId: string): Promise<number> {
  const row = await svc.db('products').where({ id: productId }).first();
  return row.stock;
}

export async function waitForStatus(svc: TestService, id: string, status: string, timeoutMs = 15_000) {
  return eventually(
    async () => {
      const row = await orderRow(svc, id);
      return row.status === status ? row : undefined;
    },
    timeoutMs,
    `order ${id} to be ${status}`,
  );
}

/** Timeout events recorded for an order. */
export async function timeoutEvents(svc: TestService, id: string): Promise<number> {
  const rows = await svc.db('order_events').where({ order_id: id, event: 'timeout' });
  return rows.length;
}

/** Reads one counter sample from /metrics (0 when absent). */
export async function metricValue(
  svc: TestService,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`${svc.baseUrl}/metrics`);
  const text = await res.text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith('{') || rest.startsWith(' '))) continue;
    if (want.every((w) => rest.includes(w))) total += Number(line.split(' ').pop());
  }
  return total;
}
