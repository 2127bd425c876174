import os from 'node:os';
import type { Command } from 'commander';
import { seedPolicy as configuredPolicy } from '../config';
import { seedPolicy } from '../db/policy-repo';
import { policyText, type PolicyText, type PolicyVersion } from '../domain/policy';
import { AppError } from '../errors';
import { changePolicy, readPolicyHistory, toPolicyJson } from '../orders/admin-policy';
import { cliConfig, cliDatabase, CliError, printTable } from './cli-context';

/** `category=duration`, repeatable: collected into one map. */
const collect =
  (what: string) =>
  (value: string, previous: Record<string, string> = {}) => {
    const match = /^([^=\s][^=]*)=(\S+)$/.exec(value.trim());
    if (!match) throw new CliError(`${what} must be category=duration, e.g. fresh=10m (got "${value}")`);
    return { ...previous, [match[1]!.trim()]: match[2]! };
  };

function printVersion(v: PolicyVersion): void {
  const rows = [
    ...Object.entries(v.text.paymentWindows).map(([category, d]) => ({ setting: 'payment window', category, d })),
    ...Object.entries(v.text.paymentReminders).map(([category, d]) => ({ setting: 'payment reminder', category, d })),
    { setting: 'auto-complete after', category: '', d: v.text.autoCompleteAfter },
  ].map((r) => ({ setting: r.setting, category: r.category, duration: r.d }));
  process.stdout.write(
    `policy version ${v.version}, changed ${v.changedAt.toISOString()} by ${v.changedBy} (${v.via})\n`,
  );
  printTable(rows, ['setting', 'category', 'duration']);
}

interface SetOptions {
  paymentWindow?: Record<string, string>;
  reminder?: Record<string, string>;
  autoCompleteAfter?: string;
  actor?: string;
  json?: boolean;
}

/**
 * `order-timeout policy show|set|history`: the timer policy, read and changed in the database directly (as the
 * admin API does; every running instance picks a change up within 5 s).
 */
export function policyCommand(program: Command): void {
  const policy = program
    .command('policy')
    .description('the timer policy: payment windows, payment reminders, auto-complete (stored in the database)');

  policy
    .command('show')
    .description('print the policy in force')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = cliConfig();
      const db = await cliDatabase(config);
      try {
        const v = await seedPolicy(db, policyText(configuredPolicy(config)), new Date());
        if (opts.json) process.stdout.write(`${JSON.stringify(toPolicyJson(v), null, 2)}\n`);
        else printVersion(v);
      } finally {
        await db.destroy();
      }
    });

  policy
    .command('history')
    .description('print every version, newest first')
    .option('--limit <n>', 'at most this many', '20')
    .option('--json', 'print JSON')
    .action(async (opts: { limit: string; json?: boolean }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new CliError(`--limit must be a positive whole number`);
      const db = await cliDatabase(cliConfig());
      try {
        const versions = (await readPolicyHistory(db, limit)).map(toPolicyJson);
        if (opts.json) process.stdout.write(`${JSON.stringify(versions, null, 2)}\n`);
        else printTable(versions, ['version', 'changedAt', 'changedBy', 'via', 'paymentWindows', 'autoCompleteAfter']);
      } finally {
        await db.destroy();
      }
    });

  policy
    .command('set')
    .description('store a new version: the settings given replace theirs, the others stay as they are')
    .option(
      '--payment-window <category=duration>',
      'payment window of a category (repeatable)',
      collect('--payment-window'),
    )
    .option('--reminder <category=duration>', 'payment reminder of a category (repeatable)', collect('--reminder'))
    .option('--auto-complete-after <duration>', 'how long after shipping an order completes by itself')
    .option('--actor <name>', 'who makes the change, kept in the history (default: user@host)')
    .option('--json', 'print the new version as JSON')
    .action(async (opts: SetOptions) => {
      if (!opts.paymentWindow && !opts.reminder && !opts.autoCompleteAfter)
        throw new CliError('nothing to set: give --payment-window, --reminder or --auto-complete-after');
      const config = cliConfig();
      const db = await cliDatabase(config);
      try {
        const now = () => new Date();
        const current = await seedPolicy(db, policyText(configuredPolicy(config)), now());
        const text: PolicyText = {
          paymentWindows: { ...current.text.paymentWindows, ...opts.paymentWindow },
          paymentReminders: { ...current.text.paymentReminders, ...opts.reminder },
          autoCompleteAfter: opts.autoCompleteAfter ?? current.text.autoCompleteAfter,
        };
        const changedBy = (opts.actor ?? `${os.userInfo().username}@${os.hostname()}`).slice(0, 128);
        const stored = await changePolicy({ db, now }, { text, changedBy, via: 'cli' }).catch((err: unknown) => {
          throw err instanceof AppError ? new CliError(`invalid policy: ${err.detail}`) : err;
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(toPolicyJson(stored), null, 2)}\n`);
        else printVersion(stored);
      } finally {
        await db.destroy();
      }
    });
}
