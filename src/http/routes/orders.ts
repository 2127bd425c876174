import { Router } from 'express';
import { createOrder } from '../../orders/create-order';
import { changeOrder, readOrder, readOrderEvents } from '../../orders/order-actions';
import { toEventJson, toOrderJson } from '../../orders/order-json';
import type { UseCaseDeps } from '../../orders/use-case-deps';
import { idempotencyKey, jsonOnly, orderBody, parseBody, pathId } from '../validation';

/** `POST /orders`, `GET /orders/:id`, its events, and the buyer's and merchant's transitions (pay: routes/payments). */
export function orderRoutes(deps: UseCaseDeps): Router {
  const router = Router();
  router.use('/orders/:id', (req, res, next) => {
    res.locals.orderId = req.params.id;
    next();
  });

  router.post('/orders', jsonOnly(true), async (req, res) => {
    const key = idempotencyKey(req.get('Idempotency-Key'));
    const result = await createOrder(deps, parseBody(orderBody, req.body), key);
    const order = JSON.parse(result.body) as { id: string };
    res.locals.orderId = order.id;
    if (result.replayed) res.set('Idempotent-Replayed', 'true');
    res.status(result.status).location(`/orders/${order.id}`).type('application/json').send(result.body);
  });

  router.get('/orders/:id', async (req, res) => {
    res.json(toOrderJson(await readOrder(deps, pathId(req.params.id, 'order'))));
  });

  router.get('/orders/:id/events', async (req, res) => {
    res.json((await readOrderEvents(deps, pathId(req.params.id, 'order'))).map(toEventJson));
  });

  for (const event of ['cancel', 'ship', 'complete'] as const) {
    router.post(`/orders/:id/${event}`, jsonOnly(false), async (req, res) => {
      res.json(toOrderJson(await changeOrder(deps, pathId(req.params.id, 'order'), event)));
    });
  }
  return router;
}
