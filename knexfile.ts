// For the knex CLI (`npx knex migrate:status` and friends); the service migrates itself on start.
import { loadConfig } from './src/config';
import { knexConfig } from './src/db/connect';

const config = loadConfig();
export default knexConfig({ url: config.mysql.url, poolSize: 2 });
