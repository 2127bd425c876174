import { Router } from 'express';
import { AppError } from '../../errors';
import { createOrder } from '../../orders/create-order';
import { changeOrder, readOrder, readOrderEvents } from '../../orders/order-actions';
import { toEventJson, toOrderJson } from '../../orders/order-json';
import type { UseCaseDeps } from '../../orders/use-case-deps';
import { jsonOnly, orderBody, parseBody, pathId } from '../validation';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** `POST /orders`, `GET /orders/:id`, its events, and the buyer's and merchant's transitions (pay: routes/payments). */
export function orderRoutes(deps: UseCaseDeps): Router {
  const router = Router();
  router.use('/orders/:id', (req, res, next) => {
    res.locals.orderId = req.params.id;
    next();
  });

  router.post('/orders', jsonOnly(true), async (req, res) => {
    const key = req.get('Idempotency-Key');
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw new AppError(
        400,
        'bad-request',
        'Bad Idempotency-Key',
        'Idempotency-Key must be 1 to 255 visible ASCII characters',
      );
    }
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
