import { Router } from 'express';
import { issueCoupon, readCoupon, readCustomerCoupons, toCouponJson } from '../../orders/coupons';
import type { UseCaseDeps } from '../../orders/use-case-deps';
import { couponBody, customerPath, jsonOnly, parseBody, pathId } from '../validation';

/** `POST /coupons`, `GET /coupons/:id`, `GET /customers/:customerId/coupons`. */
export function couponRoutes(deps: UseCaseDeps): Router {
  const router = Router();
  router.post('/coupons', jsonOnly(true), async (req, res) => {
    const coupon = await issueCoupon(deps, parseBody(couponBody, req.body));
    res.status(201).location(`/coupons/${coupon.id}`).json(toCouponJson(coupon));
  });

  router.get('/coupons/:id', async (req, res) => {
    res.json(toCouponJson(await readCoupon(deps, pathId(req.params.id, 'coupon'))));
  });

  router.get('/customers/:customerId/coupons', async (req, res) => {
    res.json((await readCustomerCoupons(deps, customerPath(req.params.customerId))).map(toCouponJson));
  });
  return router;
}
