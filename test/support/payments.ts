import { createHmac } from 'node:crypto';
import type { ApiResponse, TestService } from './service';

/** An order's total straight from the database (reading it over HTTP could close an overdue order). */
export async function totalOf(svc: TestService, orderId: string): Promise<number> {
  const row = await svc.db('orders').where({ id: orderId }).first('total_cents');
  if (!row) throw new Error(`order ${orderId} not found`);
  return Number(row.total_cents);
}

/** `X-Signature` for a body under a secret, as the payment provider computes it. */
export const signature = (secret: string, body: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/**
 * The payment provider's notification for an order: `amountCents` defaults to the order's total (from the
 * database), and the body is signed when a secret is given.
 */
export async function pay(
  svc: TestService,
  orderId: string,
  paymentRef: string,
  opts: { amountCents?: number; secret?: string } = {},
): Promise<ApiResponse> {
  const body = JSON.stringify({ paymentRef, amountCents: opts.amountCents ?? (await totalOf(svc, orderId)) });
  const headers: Record<string, string> = opts.secret ? { 'x-signature': signature(opts.secret, body) } : {};
  return svc.api('POST', `/orders/${orderId}/pay`, body, headers);
}
