import { connectDatabase } from '../../src/db/connect';
import { migratedScratchDatabase } from '../support/scratch';

let scratch: Awaited<ReturnType<typeof migratedScratchDatabase>>;
beforeAll(async () => {
  scratch = await migratedScratchDatabase(1);
});
afterAll(async () => scratch?.destroy());

test('when a pool is opened without multipleStatements (CLI, migrations), then a query carrying two statements is refused', async () => {
  const db = connectDatabase({ url: scratch.url, poolSize: 1 });
  try {
    await expect(db.raw('SELECT 1; SELECT 2')).rejects.toMatchObject({ code: 'ER_PARSE_ERROR' });
  } finally {
    await db.destroy();
  }
});

test("when the service's pool is opened with multipleStatements, then both statements run in one round trip", async () => {
  const [results] = (await scratch.db.raw('SELECT 1 AS a; SELECT 2 AS b')) as [unknown[]];
  expect(results).toEqual([[{ a: 1 }], [{ b: 2 }]]);
});
