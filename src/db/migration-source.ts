import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';

/** A migration module: what knex calls. */
interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down?(knex: Knex): Promise<void>;
}

/**
 * The migrations next to this module, in the language it runs in: `.ts` under tsx and Jest, `.js` from the
 * build (`dist/`), never both. Each is recorded in `knex_migrations` under its source name (`….ts`) either way,
 * so a database migrated by `npm start` is current for `node dist/main.js`, and the other way round.
 */
export class MigrationSource implements Knex.MigrationSource<string> {
  /** `.ts` or `.js`: the extension this very file was loaded with. */
  private readonly ext = path.extname(__filename);

  constructor(readonly directory: string = path.join(__dirname, 'migrations')) {}

  /** Migration stems (file names without extension), oldest first. */
  getMigrations(): Promise<string[]> {
    const stems = readdirSync(this.directory)
      .filter((file) => file.endsWith(this.ext) && !file.endsWith('.d.ts'))
      .map((file) => file.slice(0, -this.ext.length))
      .sort();
    return Promise.resolve(stems);
  }

  getMigrationName(stem: string): string {
    return `${stem}.ts`;
  }

  getMigration(stem: string): Promise<MigrationModule> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return Promise.resolve(require(path.join(this.directory, stem + this.ext)) as MigrationModule);
  }

  /** The names knex records, oldest first. */
  async names(): Promise<string[]> {
    return (await this.getMigrations()).map((stem) => this.getMigrationName(stem));
  }
}
