import type { Knex } from 'knex';
import { checkPolicy, type PolicySource, type PolicyText, type PolicyVersion } from '../domain/policy';

interface PolicyRow {
  version: number | string;
  policy: string;
  changed_by: string;
  via: PolicySource;
  changed_at: Date;
}

/** A stored row as a version; a row whose text no longer checks (edited by hand) is an error naming it. */
function toVersion(r: PolicyRow): PolicyVersion {
  const text = JSON.parse(r.policy) as PolicyText;
  const checked = checkPolicy(text);
  if (!checked.ok)
    throw new Error(
      `policy version ${r.version} in the database is not valid: ${checked.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    );
  return {
    version: Number(r.version),
    text,
    policy: checked.policy,
    changedAt: r.changed_at,
    changedBy: r.changed_by,
    via: r.via,
  };
}

/** The version in force: the highest. Undefined before the first process seeded it. */
export async function currentPolicy(db: Knex): Promise<PolicyVersion | undefined> {
  const row = (await db('policy_versions').orderBy('version', 'desc').first()) as PolicyRow | undefined;
  return row ? toVersion(row) : undefined;
}

/** The highest version number (0 when none): what every process polls, one primary-key lookup. */
export async function latestPolicyVersion(db: Knex): Promise<number> {
  const row = (await db('policy_versions').max({ v: 'version' }).first()) as { v: number | string | null } | undefined;
  return Number(row?.v ?? 0);
}

/**
 * Stores version 1 from the environment unless a version exists. Several processes starting together may all try:
 * the version is the primary key, so one insert wins and the others' duplicate is ignored.
 */
export async function seedPolicy(db: Knex, text: PolicyText, now: Date): Promise<PolicyVersion> {
  const existing = await currentPolicy(db);
  if (existing) return existing;
  try {
    await db('policy_versions').insert({
      version: 1,
      policy: JSON.stringify(text),
      changed_by: 'environment',
      via: 'seed',
      changed_at: now,
    });
  } catch (err) {
    if ((err as { code?: string }).code !== 'ER_DUP_ENTRY') throw err;
  }
  return (await currentPolicy(db))!;
}

/**
 * Stores a new version (the next number, from AUTO_INCREMENT: two changes at once each get their own, and the later
 * one is in force). The text must have passed checkPolicy.
 */
export async function storePolicy(
  db: Knex,
  change: { text: PolicyText; changedBy: string; via: PolicySource; now: Date },
): Promise<PolicyVersion> {
  const [version] = await db('policy_versions').insert({
    policy: JSON.stringify(change.text),
    changed_by: change.changedBy,
    via: change.via,
    changed_at: change.now,
  });
  const row = (await db('policy_versions').where({ version }).first()) as PolicyRow;
  return toVersion(row);
}

/** Every version, newest first, at most `limit`. */
export async function policyHistory(db: Knex, limit: number): Promise<PolicyVersion[]> {
  const rows = (await db('policy_versions').orderBy('version', 'desc').limit(limit)) as PolicyRow[];
  return rows.map(toVersion);
}
