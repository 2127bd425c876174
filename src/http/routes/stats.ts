import { Router } from 'express';
import { readTimeoutStats } from '../../orders/read-timeout-stats';
import type { UseCaseDeps } from '../../orders/use-case-deps';
import type { TimeoutStatsJson } from '../api-schemas';
import { sinceQuery } from '../validation';

/** `GET /stats/timeouts`: per category of the orders created since `?since=` (default 24 h). */
export function statsRoutes(deps: UseCaseDeps): Router {
  const router = Router();
  router.get('/stats/timeouts', async (req, res) => {
    const now = deps.now();
    const stats: TimeoutStatsJson = await readTimeoutStats(deps, sinceQuery(req.query.since, now), now);
    res.json(stats);
  });
  return router;
}
