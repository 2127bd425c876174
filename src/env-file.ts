import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from './config';

/** The variable that names the env file; empty turns env files off (the test suite does, see test/support). */
export const ENV_FILE_VAR = 'ORDER_TIMEOUT_ENV_FILE';

/**
 * Loads `.env` from the working directory (or the file named by ORDER_TIMEOUT_ENV_FILE) into `env`, for
 * `npm start` and the CLI; variables already set win, so the real environment always overrides the file.
 * Returns the file read, if any. A missing `.env` is fine; a missing file named on purpose is a ConfigError.
 */
export function loadEnvFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  const named = env[ENV_FILE_VAR];
  if (named === '') return undefined;
  const file = path.resolve(cwd, named ?? '.env');
  if (!existsSync(file)) {
    if (named === undefined) return undefined;
    throw new ConfigError(`Invalid configuration: ${ENV_FILE_VAR}: ${file} does not exist`);
  }
  for (const [name, value] of Object.entries(parseEnv(readFileSync(file, 'utf8')))) env[name] ??= value;
  return file;
}
