import { Router } from 'express';
import { readTimeoutStats } from '../../orders/read-timeout-stats';
import type { UseCaseDeps } from '../../orders/use-case-deps';
import type { TimeoutStatsJson } from '../api-schemas';
import { byQuery, sinceQuery } from '../validation';

/** `GET /stats/timeouts`: per category (region, tier: `?by=`) of the orders created since `?since=` (default 24 h). */
export function statsRoutes(deps: UseCaseDeps): Router {
  const router = Router();
  router.get('/stats/timeouts', async (req, res) => {
    const now = deps.now();
    const since = sinceQuery(req.query.since, now);
    const stats: TimeoutStatsJson = await readTimeoutStats(deps, { since, until: now, by: byQuery(req.query.by) });
    res.json(stats);
  });
  return router;
}
