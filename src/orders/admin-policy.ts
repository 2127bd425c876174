import type { Knex } from 'knex';
import { currentPolicy, policyHistory, storePolicy } from '../db/policy-repo';
import {
  checkPolicy,
  type PolicyHolder,
  type PolicySource,
  type PolicyText,
  type PolicyVersion,
} from '../domain/policy';
import { AppError } from '../errors';
import type { PolicyJson } from '../http/api-schemas';

/** A policy version as `GET /admin/policy` and the CLI show it. */
export const toPolicyJson = (v: PolicyVersion): PolicyJson => ({
  version: v.version,
  ...v.text,
  changedAt: v.changedAt.toISOString(),
  changedBy: v.changedBy,
  via: v.via,
});

/** The version in force (the highest stored; every process adopts it within `policy.pollInterval`). */
export async function readPolicy(db: Knex): Promise<PolicyVersion> {
  const found = await currentPolicy(db);
  // The service seeds version 1 at start-up; only a database no service ever ran on has none.
  if (!found) throw new AppError(404, 'not-found', 'No policy', 'no policy is stored yet: start the service once');
  return found;
}

/**
 * Stores a new policy version after checking it (422 `invalid-policy` listing every problem) and adopts it in this
 * process at once; the others adopt it on their next poll. Deadlines already set never move.
 */
export async function changePolicy(
  ctx: { db: Knex; now: () => Date; policy?: PolicyHolder },
  change: { text: PolicyText; changedBy: string; via: PolicySource },
): Promise<PolicyVersion> {
  const checked = checkPolicy(change.text);
  if (!checked.ok)
    throw new AppError(
      422,
      'invalid-policy',
      'Invalid policy',
      checked.issues.map((i) => `${i.path}: ${i.message}`).join('; '),
      { errors: checked.issues },
    );
  const stored = await storePolicy(ctx.db, { ...change, now: ctx.now() });
  ctx.policy?.adopt(stored);
  return stored;
}

/** Every version, newest first (at most `limit`). */
export const readPolicyHistory = (db: Knex, limit: number): Promise<PolicyVersion[]> => policyHistory(db, limit);
