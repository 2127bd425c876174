import { Router } from 'express';
import { listPayments, type Payment } from '../../db/payments-repo';
import { toOrderJson } from '../../orders/order-json';
import { receivePayment } from '../../orders/receive-payment';
import type { UseCaseDeps } from '../../orders/use-case-deps';
import { requireSignature } from '../signature';
import { jsonOnly, parseBody, pathId, payBody, paymentsQuery } from '../validation';

/** A payment as the API shows it. */
export const toPaymentJson = (p: Payment) => ({
  paymentRef: p.paymentRef,
  orderId: p.orderId,
  amountCents: p.amountCents,
  status: p.status,
  reason: p.reason,
  receivedAt: p.receivedAt.toISOString(),
  refundedAt: p.refundedAt?.toISOString() ?? null,
});

/**
 * `POST /orders/:id/pay` (the payment provider's notification: 200 paid or revived, 202 stored for a refund) and
 * `GET /payments?status=`.
 */
export function paymentRoutes(deps: UseCaseDeps, webhookSecret: string): Router {
  const router = Router();
  // The signature first: an unsigned notification learns nothing about the order.
  router.post('/orders/:id/pay', requireSignature(webhookSecret), jsonOnly(true), async (req, res) => {
    const orderId = pathId(req.params.id, 'order');
    const { paymentRef, amountCents } = parseBody(payBody, req.body);
    const result = await receivePayment(deps, { orderId, paymentRef, amountCents });
    if (result.status === 200) res.json(toOrderJson(result.order));
    else res.status(202).json(result.refund);
  });

  router.get('/payments', async (req, res) => {
    const query = parseBody(paymentsQuery, req.query, 'query');
    res.json((await listPayments(deps.db, query)).map(toPaymentJson));
  });
  return router;
}
