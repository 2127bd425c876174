import { parseDuration } from './duration';
import type { PaymentReminders, PaymentTimeouts } from './payment-window';

/** The timer policy in force, durations in ms: what new orders (and newly shipped ones) get. */
export interface Policy {
  /** Payment window per product category; `default` for categories not listed. */
  paymentWindows: PaymentTimeouts;
  /** How long before its deadline a pending order is reminded, per category (`default` for those not listed). */
  paymentReminders: PaymentReminders;
  /** How long after shipping an order completes by itself. */
  autoCompleteAfterMs: number;
}

/** The policy as operators write it (`PUT /admin/policy`, `policy set`): durations as text, e.g. `15m`. */
export interface PolicyText {
  paymentWindows: Record<string, string>;
  paymentReminders: Record<string, string>;
  autoCompleteAfter: string;
}

/** One stored version of the policy: every change is kept (`GET /admin/policy/history`). */
export interface PolicyVersion {
  version: number;
  text: PolicyText;
  policy: Policy;
  changedAt: Date;
  /** Who made the change: the `X-Actor` header, the CLI's user, or `environment` for the seed. */
  changedBy: string;
  /** Where it came from: `seed` (the environment, version 1), `http` or `cli`. */
  via: PolicySource;
}

/** The policy in force in this process: the newest version it has seen. */
export interface PolicyHolder {
  current(): PolicyVersion;
  /** Takes `version` if it is newer than the one in force; true when it did. */
  adopt(version: PolicyVersion): boolean;
}

/** A holder of the newest version given to it. */
export function holdPolicy(initial: PolicyVersion): PolicyHolder {
  let current = initial;
  return {
    current: () => current,
    adopt(version) {
      if (version.version <= current.version) return false;
      current = version;
      return true;
    },
  };
}

export const POLICY_SOURCES = ['seed', 'http', 'cli'] as const;
export type PolicySource = (typeof POLICY_SOURCES)[number];

const DAY = 86_400_000;
/** Longest payment window (and payment reminder) the policy accepts. */
export const MAX_PAYMENT_WINDOW_MS = 30 * DAY;
/** Longest auto-complete delay the policy accepts. */
export const MAX_AUTO_COMPLETE_MS = 365 * DAY;
/** Most categories in one map of the policy. */
export const MAX_POLICY_CATEGORIES = 200;

/** One problem with a policy, at a dotted path such as `paymentWindows.fresh`. */
export interface PolicyIssue {
  path: string;
  message: string;
}

const UNITS: [string, number][] = [
  ['d', DAY],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];

/** `ms` as the shortest duration text that means it exactly: 900000 → `15m`, 1500 → `1500ms`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of UNITS) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

type Parsed = { ok: true; ms: number } | { ok: false; message: string };
function duration(text: string, maxMs: number): Parsed {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
  if (ms > maxMs)
    return { ok: false, message: `"${text}" is longer than the largest supported, ${formatDuration(maxMs)}` };
  return { ok: true, ms };
}

function durations(
  map: Record<string, string>,
  name: string,
  maxMs: number,
  issues: PolicyIssue[],
): Record<string, number> {
  const out: Record<string, number> = {};
  const keys = Object.keys(map);
  if (keys.length > MAX_POLICY_CATEGORIES)
    issues.push({ path: name, message: `at most ${MAX_POLICY_CATEGORIES} categories (got ${keys.length})` });
  for (const key of keys) {
    const parsed = duration(map[key]!, maxMs);
    if (parsed.ok) out[key] = parsed.ms;
    else issues.push({ path: `${name}.${key}`, message: parsed.message });
  }
  return out;
}

/**
 * Checks a policy as written and turns its durations into ms: every duration valid and within the largest
 * supported, a `default` payment window, every reminder shorter than the window of its category. Returns every
 * problem found, or the policy.
 */
export function checkPolicy(text: PolicyText): { ok: true; policy: Policy } | { ok: false; issues: PolicyIssue[] } {
  const issues: PolicyIssue[] = [];
  const windows = durations(text.paymentWindows, 'paymentWindows', MAX_PAYMENT_WINDOW_MS, issues);
  if (!Object.hasOwn(text.paymentWindows, 'default'))
    issues.push({ path: 'paymentWindows.default', message: 'required: the window of categories not listed' });
  const reminders = durations(text.paymentReminders, 'paymentReminders', MAX_PAYMENT_WINDOW_MS, issues);
  const autoComplete = duration(text.autoCompleteAfter, MAX_AUTO_COMPLETE_MS);
  if (!autoComplete.ok) issues.push({ path: 'autoCompleteAfter', message: autoComplete.message });
  for (const [category, ms] of Object.entries(reminders)) {
    const window = Object.hasOwn(windows, category) ? windows[category] : windows.default;
    if (window !== undefined && ms >= window)
      issues.push({
        path: `paymentReminders.${category}`,
        message: `${text.paymentReminders[category]} must be shorter than the payment window of ${category} (${formatDuration(window)})`,
      });
  }
  if (issues.length > 0 || !autoComplete.ok) return { ok: false, issues };
  return {
    ok: true,
    policy: {
      paymentWindows: windows as PaymentTimeouts,
      paymentReminders: reminders,
      autoCompleteAfterMs: autoComplete.ms,
    },
  };
}

/** The text of a policy given in ms (the configuration's seed). */
export function policyText(policy: Policy): PolicyText {
  const texts = (map: Readonly<Record<string, number>>) =>
    Object.fromEntries(Object.entries(map).map(([k, ms]) => [k, formatDuration(ms)]));
  return {
    paymentWindows: texts(policy.paymentWindows),
    paymentReminders: texts(policy.paymentReminders),
    autoCompleteAfter: formatDuration(policy.autoCompleteAfterMs),
  };
}
