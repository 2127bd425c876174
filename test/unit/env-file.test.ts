import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/config';
import { loadEnvFile } from '../../src/env-file';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ot-env-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loadEnvFile', () => {
  test('when .env exists in the working directory, then its variables fill the ones not already set', () => {
    writeFileSync(path.join(dir, '.env'), '# local stack\nAMQP_URL=amqp://file@h/\nHTTP_PORT=4000\n');
    const env: NodeJS.ProcessEnv = { HTTP_PORT: '5000' };
    expect(loadEnvFile(env, dir)).toBe(path.join(dir, '.env'));
    expect(env).toEqual({ HTTP_PORT: '5000', AMQP_URL: 'amqp://file@h/' });
  });

  test('when there is no .env, then nothing changes', () => {
    const env: NodeJS.ProcessEnv = { HTTP_PORT: '5000' };
    expect(loadEnvFile(env, dir)).toBeUndefined();
    expect(env).toEqual({ HTTP_PORT: '5000' });
  });

  test('when ORDER_TIMEOUT_ENV_FILE is empty, then .env is not read', () => {
    writeFileSync(path.join(dir, '.env'), 'HTTP_PORT=4000\n');
    const env: NodeJS.ProcessEnv = { ORDER_TIMEOUT_ENV_FILE: '' };
    expect(loadEnvFile(env, dir)).toBeUndefined();
    expect(env).toEqual({ ORDER_TIMEOUT_ENV_FILE: '' });
  });

  test('when ORDER_TIMEOUT_ENV_FILE names a file, then that file is read instead of .env', () => {
    writeFileSync(path.join(dir, '.env'), 'HTTP_PORT=4000\n');
    writeFileSync(path.join(dir, 'staging.env'), 'HTTP_PORT=4001\n');
    const env: NodeJS.ProcessEnv = { ORDER_TIMEOUT_ENV_FILE: 'staging.env' };
    loadEnvFile(env, dir);
    expect(env.HTTP_PORT).toBe('4001');
  });

  test('when ORDER_TIMEOUT_ENV_FILE names a missing file, then it throws a ConfigError naming the variable', () => {
    expect(() => loadEnvFile({ ORDER_TIMEOUT_ENV_FILE: 'nope.env' }, dir)).toThrow(
      new ConfigError(`Invalid configuration: ORDER_TIMEOUT_ENV_FILE: ${path.join(dir, 'nope.env')} does not exist`),
    );
  });
});
