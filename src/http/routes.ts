import { Router } from 'express';
import { createOrder } from '../orders/create-order';
import { changeOrder, readOrder, readOrderEvents } from '../orders/order-actions';
import type { OrderContext } from '../orders/order-context';
import { toEventJson, toOrderJson } from '../orders/order-json';
import { createProduct, readProduct } from '../orders/products';
import { timeoutStats } from '../orders/timeout-stats';
import { AppError } from '../errors';
import { jsonOnly, orderBody, parseBody, pathId, payBody, productBody, sinceQuery } from './validation';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function orderRoutes(ctx: OrderContext): Router {
  const router = Router();
  router.use('/orders/:id', (req, res, next) => {
    res.locals.orderId = req.params.id;
    next();
  });

  router.post('/products', jsonOnly(true), async (req, res) => {
    const product = await createProduct(ctx, parseBody(productBody, req.body));
    res.status(201).location(`/products/${product.id}`).json(product);
  });

  router.get('/products/:id', async (req, res) => {
    res.json(await readProduct(ctx, pathId(req.params.id, 'product')));
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
    const result = await createOrder(ctx, parseBody(orderBody, req.body), key);
    const order = JSON.parse(result.body) as { id: string };
    res.locals.orderId = order.id;
    if (result.replayed) res.set('Idempotent-Replayed', 'true');
    res.status(result.status).location(`/orders/${order.id}`).type('application/json').send(result.body);
  });

  router.get('/orders/:id', async (req, res) => {
    res.json(toOrderJson(await readOrder(ctx, pathId(req.params.id, 'order'))));
  });

  router.get('/orders/:id/events', async (req, res) => {
    res.json((await readOrderEvents(ctx, pathId(req.params.id, 'order'))).map(toEventJson));
  });

  router.post('/orders/:id/pay', jsonOnly(true), async (req, res) => {
    const { paymentRef } = parseBody(payBody, req.body);
    res.json(toOrderJson(await changeOrder(ctx, pathId(req.params.id, 'order'), 'pay', { paymentRef })));
  });

  for (const event of ['cancel', 'ship', 'complete'] as const) {
    router.post(`/orders/:id/${event}`, jsonOnly(false), async (req, res) => {
      res.json(toOrderJson(await changeOrder(ctx, pathId(req.params.id, 'order'), event)));
    });
  }

  // Per category of the orders created since ?since= (default 24 h): outcomes, timeout rate, close lateness.
  router.get('/stats/timeouts', async (req, res) => {
    const now = ctx.now();
    res.json(await timeoutStats(ctx, sinceQuery(req.query.since, now), now));
  });

  return router;
}
