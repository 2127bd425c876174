import { Router } from 'express';
import { readTimeoutStats } from '../../orders/read-timeout-stats';
import type { UseCaseDeps } from '../../orders/use-case-deps';
import { sinceQuery } from '../validation';

/** `GET /stats/timeouts`: per category of the orders created since `?since=` (default 24 h). */
export function statsRoutes(deps: UseCaseDeps): Router {
  const router = Router();
  router.get('/stats/timeouts', async (req, res) => {
    const now = deps.now();
    res.json(await readTimeoutStats(deps, sinceQuery(req.query.since, now), now));
  });
  return router;
}
