import { Router } from 'express';
import { changePolicy, readPolicy, readPolicyHistory, toPolicyJson } from '../../orders/admin-policy';
import type { UseCaseDeps } from '../../orders/use-case-deps';
import { AppError } from '../../errors';
import { requireAdminToken } from '../admin-auth';
import type { PolicyJson } from '../api-schemas';
import { actorHeader, historyQuery, jsonOnly, parseBody, policyBody } from '../validation';

/** Who a change is recorded as: `X-Actor` when given (400 when malformed), else `admin-api`. */
function actor(value: string | undefined): string {
  if (value === undefined) return 'admin-api';
  const checked = actorHeader.safeParse(value);
  if (checked.success) return checked.data;
  throw new AppError(400, 'bad-request', 'Bad X-Actor', checked.error.issues[0]!.message);
}

/** `GET/PUT /admin/policy` and `GET /admin/policy/history`, behind the admin bearer token. */
export function adminRoutes(deps: UseCaseDeps, adminToken: string): Router {
  const router = Router();
  router.use('/admin', requireAdminToken(adminToken));

  router.get('/admin/policy', async (_req, res) => {
    const body: PolicyJson = toPolicyJson(await readPolicy(deps.db));
    res.json(body);
  });

  router.put('/admin/policy', jsonOnly(true), async (req, res) => {
    const given = parseBody(policyBody, req.body, 'policy');
    // Reminders left out stay as they are: a window change must not silently turn them off.
    const text = {
      ...given,
      paymentReminders: given.paymentReminders ?? (await readPolicy(deps.db)).text.paymentReminders,
    };
    const changedBy = actor(req.get('X-Actor'));
    const body: PolicyJson = toPolicyJson(await changePolicy(deps, { text, changedBy, via: 'http' }));
    res.json(body);
  });

  router.get('/admin/policy/history', async (req, res) => {
    const { limit } = parseBody(historyQuery, req.query, 'query');
    const body: PolicyJson[] = (await readPolicyHistory(deps.db, limit)).map(toPolicyJson);
    res.json(body);
  });
  return router;
}
