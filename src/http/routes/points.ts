import { Router } from 'express';
import { changePoints, findPoints } from '../../db/points-repo';
import type { UseCaseDeps } from '../../orders/use-case-deps';
import { customerPath, jsonOnly, parseBody, pointsBody } from '../validation';

/** `POST /customers/:customerId/points` (grant or take), `GET /customers/:customerId/points`. */
export function pointsRoutes(deps: UseCaseDeps): Router {
  const router = Router();
  router.post('/customers/:customerId/points', jsonOnly(true), async (req, res) => {
    const customerId = customerPath(req.params.customerId);
    const { delta, reason } = parseBody(pointsBody, req.body);
    res.json(await changePoints(deps.db, { customerId, delta, reason }, deps.now()));
  });

  router.get('/customers/:customerId/points', async (req, res) => {
    res.json(await findPoints(deps.db, customerPath(req.params.customerId)));
  });
  return router;
}
