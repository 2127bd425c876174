import { readdirSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { SchemaBehindError } from '../../src/db/connect';
import { startService } from '../../src/main';
import { runCli } from '../support/cli';
import {
  databaseExists,
  deleteVhost,
  dropDatabase,
  migratedScratchDatabase,
  scratchDatabaseUrl,
  scratchVhost,
} from '../support/scratch';
import { spawnNode } from '../support/service-process';

const ROOT = path.join(__dirname, '..', '..');
// What the sources ship, so adding a migration does not break these tests.
const MIGRATIONS = readdirSync(path.join(ROOT, 'src', 'db', 'migrations'))
  .filter((f) => f.endsWith('.ts'))
  .sort();
const LAST_MIGRATION = MIGRATIONS[MIGRATIONS.length - 1]!;
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

function scratchUrl(): string {
  const url = scratchDatabaseUrl();
  cleanups.push(() => dropDatabase(url));
  return url;
}

/** A scratch database with its last migration rolled back, as if the code were one release ahead of it. */
async function databaseOneBehind() {
  const scratch = await migratedScratchDatabase(2);
  cleanups.push(() => scratch.destroy());
  await scratch.db.migrate.down();
  return scratch;
}

describe('order-timeout db migrate and db status', () => {
  test('when the database does not exist, then db status exits 1 listing every migration as pending and db migrate creates and migrates it', async () => {
    const url = scratchUrl();
    const before = await runCli(['db', 'status'], { MYSQL_URL: url });
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/^20261121000000_create_schema\.ts +pending$/m);
    expect(before.stdout).toMatch(/does not exist yet: run npm run db:migrate/);
    expect(await databaseExists(url)).toBe(false); // status changes nothing

    const migrated = await runCli(['db', 'migrate'], { MYSQL_URL: url });
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toContain(`applied ${MIGRATIONS.length} migrations`);
    expect(migrated.stdout).toContain(LAST_MIGRATION);

    const again = await runCli(['db', 'migrate'], { MYSQL_URL: url });
    expect({ code: again.code, stdout: again.stdout }).toEqual({
      code: 0,
      stdout: expect.stringMatching(/: already up to date\n$/),
    });
    const after = await runCli(['db', 'status', '--json'], { MYSQL_URL: url });
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ upToDate: true, databaseExists: true, pending: [] });
  });

  test('when one migration is pending, then db status exits 1 naming it and db migrate applies only it', async () => {
    const { url } = await databaseOneBehind();
    const status = await runCli(['db', 'status'], { MYSQL_URL: url });
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(new RegExp(`^${LAST_MIGRATION.replace(/\./g, '\\.')} +pending$`, 'm'));
    expect(status.stdout).toMatch(/^20261121000000_create_schema\.ts +applied +1 /m);
    expect(status.stdout.trimEnd().split('\n').pop()).toMatch(/: 1 pending: run npm run db:migrate/);

    const migrate = await runCli(['db', 'migrate'], { MYSQL_URL: url });
    expect({ code: migrate.code, stdout: migrate.stdout }).toEqual({
      code: 0,
      stdout: expect.stringMatching(
        new RegExp(`: applied 1 migration\\n  ${LAST_MIGRATION.replace(/\./g, '\\.')}\\n$`),
      ),
    });
    expect((await runCli(['db', 'status'], { MYSQL_URL: url })).code).toBe(0);
  });

  test('when the database is unreachable, then db status exits 2 with one line on stderr', async () => {
    const res = await runCli(['db', 'status'], { MYSQL_URL: 'mysql://root@127.0.0.1:1/ot_nowhere' });
    expect(res.code).toBe(2);
    expect(res.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^order-timeout: cannot read the database/),
    ]);
  });
});

describe('MYSQL_MIGRATE_ON_START=false', () => {
  test('when a migration is pending, then start-up fails with one line saying to run npm run db:migrate, and migrates nothing', async () => {
    const { url, db } = await databaseOneBehind();
    const { vhost, url: amqpUrl } = await scratchVhost();
    cleanups.push(() => deleteVhost(vhost));
    const svc = spawnNode(['--require', 'tsx/cjs', 'src/main.ts'], {
      cwd: ROOT,
      env: { NODE_ENV: 'test', HTTP_PORT: '0', MYSQL_URL: url, AMQP_URL: amqpUrl, MYSQL_MIGRATE_ON_START: 'false' },
    });
    expect(await svc.exited).toBe(1);
    const errors = svc.logLines().filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.err).toMatch(
      new RegExp(`1 migration pending: ${LAST_MIGRATION.replace(/\./g, '\\.')}.*run \`npm run db:migrate\``),
    );
    expect(await db('knex_migrations').where({ name: LAST_MIGRATION })).toEqual([]);
  }, 30_000);

  test('when the database does not exist, then startService rejects naming it and does not create it', async () => {
    const url = scratchUrl();
    const config = loadConfig({ http: { port: 0 }, mysql: { url, migrateOnStart: false } });
    const failure = startService(config).then(
      () => undefined,
      (err: unknown) => err,
    );
    const err = await failure;
    expect(err).toBeInstanceOf(SchemaBehindError);
    expect((err as Error).message).toContain(`the database ${new URL(url).pathname.slice(1)} does not exist`);
    expect(await databaseExists(url)).toBe(false);
  });

  test('when the schema is current, then the service starts without taking the migration lock', async () => {
    const scratch = await migratedScratchDatabase(2);
    cleanups.push(() => scratch.destroy());
    const { vhost, url: amqpUrl } = await scratchVhost();
    cleanups.push(() => deleteVhost(vhost));
    // Another process holds the migration lock: migrating would fail with "Migration table is already locked".
    await scratch.db('knex_migrations_lock').update({ is_locked: 1 });

    const locked = loadConfig({ http: { port: 0 }, mysql: { url: scratch.url }, amqp: { url: amqpUrl } });
    await expect(startService(locked)).rejects.toThrow(/already locked/);

    const svc = await startService({ ...locked, mysql: { ...locked.mysql, migrateOnStart: false } });
    try {
      expect((await fetch(`http://127.0.0.1:${svc.port}/healthz`)).status).toBe(200);
    } finally {
      await svc.stop();
    }
  });
});
