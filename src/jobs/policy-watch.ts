import type { Knex } from 'knex';
import { currentPolicy, latestPolicyVersion } from '../db/policy-repo';
import type { PolicyHolder, PolicyVersion } from '../domain/policy';
import { errorFields, logger } from '../log';
import { runPeriodically, type PeriodicJob } from './periodic';

/** Logs the policy a process now applies to new orders (no secrets in it). */
export function logPolicyAdopted(v: PolicyVersion, why: string): void {
  logger.info(why, { version: v.version, changedBy: v.changedBy, via: v.via, policy: v.text });
}

/**
 * Every `intervalMs`, looks up the highest policy version (one primary-key lookup) and, when it is newer than the
 * one in force here, reads and adopts it: orders created from then on get it. A database that does not answer keeps
 * the policy in force; the next round tries again.
 */
export function watchPolicy(opts: { db: Knex; holder: PolicyHolder; intervalMs: number }): PeriodicJob {
  return runPeriodically(opts.intervalMs, async () => {
    try {
      if ((await latestPolicyVersion(opts.db)) <= opts.holder.current().version) return;
      const latest = await currentPolicy(opts.db);
      if (latest && opts.holder.adopt(latest)) logPolicyAdopted(latest, 'policy changed');
    } catch (err) {
      logger.warn('policy not read; the one in force stays', errorFields(err));
    }
  });
}
