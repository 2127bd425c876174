import { Router } from 'express';
import { createPromotion, readPromotion, toPromotionJson } from '../../orders/promotions';
import type { UseCaseDeps } from '../../orders/use-case-deps';
import { jsonOnly, parseBody, pathId, promotionBody } from '../validation';

/** `POST /promotions`, `GET /promotions/:id`. */
export function promotionRoutes(deps: UseCaseDeps): Router {
  const router = Router();
  router.post('/promotions', jsonOnly(true), async (req, res) => {
    const promotion = await createPromotion(deps, parseBody(promotionBody, req.body));
    res.status(201).location(`/promotions/${promotion.id}`).json(toPromotionJson(promotion));
  });

  router.get('/promotions/:id', async (req, res) => {
    res.json(toPromotionJson(await readPromotion(deps, pathId(req.params.id, 'promotion'))));
  });
  return router;
}
