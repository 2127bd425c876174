import { randomBytes } from 'node:crypto';
import { eventually } from './scratch';
import type { ApiResponse, TestService } from './service';

/** A product made through the API; `sku` is unique unless given. */
export async function makeProduct(
  service: TestService,
  fields: Partial<{ sku: string; name: string; category: string; priceCents: number; stock: number }> = {},
): Promise<{ id: string; sku: string; name: string; category: string; priceCents: number; stock: number }> {
  const body = {
    sku: `sku-${randomBytes(6).toString('hex')}`,
    name: 'Test product',
    category: 'books',
    priceCents: 1250,
    stock: 100,
    ...fields,
  };
  const res = await service.api('POST', '/products', body);
  if (res.status !== 201) throw new Error(`POST /products answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A PENDING_PAYMENT order through the API. */
export async function makeOrder(
  service: TestService,
  items: { productId: string; quantity: number }[],
  customerId = 'cust-1',
) {
  const res = await service.api('POST', '/orders', { customerId, items });
  if (res.status !== 201) throw new Error(`POST /orders answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as {
    id: string;
    customerId: string;
    status: string;
    category: string;
    totalCents: number;
    expiresAt: string;
    items: { productId: string; quantity: number; unitPriceCents: number }[];
  };
}

/** A product's available stock, straight from the database. */
export async function stockOf(service: TestService, productId: string): Promise<number> {
  const row = await service.db('products').where({ id: productId }).first('stock');
  return Number(row.stock);
}

/** The order row straight from the database: reading through the API would itself close an overdue order. */
export async function orderRow(
  service: TestService,
  id: string,
): Promise<{ status: string; expires_at: Date; closed_at: Date | null }> {
  return service.db('orders').where({ id }).first();
}

/** Waits until the order's row has `status`; returns the row. */
export async function waitForStatus(service: TestService, id: string, status: string, timeoutMs = 15_000) {
  return eventually(
    async () => {
      const row = await orderRow(service, id);
      return row.status === status ? row : undefined;
    },
    timeoutMs,
    `order ${id} to be ${status}`,
  );
}

/** How many timeout events are recorded for an order (1 when it was closed once for its deadline). */
export async function timeoutEvents(service: TestService, id: string): Promise<number> {
  const rows = await service.db('order_events').where({ order_id: id, event: 'timeout' });
  return rows.length;
}

/** Reads one counter from /metrics, summed over the samples whose labels include `labels` (0 when absent). */
export async function metricValue(
  service: TestService,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${service.baseUrl}/metrics`)).text();
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

export async function eventsOf(
  service: TestService,
  orderId: string,
): Promise<{ event: string; from: string | null; to: string; source: string; at: string }[]> {
  const res = await service.api('GET', `/orders/${orderId}/events`);
  if (res.status !== 200) throw new Error(`GET /orders/${orderId}/events answered ${res.status}`);
  return res.body;
}

/** Asserts an RFC 9457 problem response with the given status (and problem type suffix, when given). */
export function expectProblem(res: ApiResponse, status: number, type?: string): void {
  expect({ status: res.status, contentType: res.headers.get('content-type') }).toEqual({
    status,
    contentType: expect.stringMatching(/^application\/problem\+json/),
  });
  expect(res.body).toEqual(
    expect.objectContaining({
      type: type ? `urn:order-timeout:problem:${type}` : expect.any(String),
      title: expect.any(String),
      status,
      detail: expect.any(String),
    }),
  );
  expect(res.body.title.length).toBeGreaterThan(0);
  expect(res.body.detail.length).toBeGreaterThan(0);
}

/** Moves an order's deadline into the past, straight in the database (as if its window had run out). */
export async function expireInDb(service: TestService, orderId: string, agoMs = 1_000): Promise<void> {
  const changed = await service
    .db('orders')
    .where({ id: orderId })
    .update({ expires_at: new Date(Date.now() - agoMs) });
  if (changed !== 1) throw new Error(`order ${orderId} not found`);
}

export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
