// For the knex CLI, which needs tsx to load this file: `NODE_OPTIONS=--require=tsx/cjs npx knex migrate:status`.
// `npm run db:migrate` / `npm run db:status` (the order-timeout CLI) are the supported way; the service also
// migrates itself on start unless MYSQL_MIGRATE_ON_START=false.
import { loadConfig } from './src/config';
import { knexConfig } from './src/db/connect';

const config = loadConfig();
export default knexConfig({ url: config.mysql.url, poolSize: 2 });
