import { readFileSync } from 'node:fs';
import path from 'node:path';
import { hashPassword } from '../../src/messaging/definitions';

/**
 * The local stack's credentials live in four files: docker-compose.yml, rabbitmq-definitions.json (hashes only),
 * docker/mysql-init (through compose's environment) and .env.example. A password changed in one must change in all.
 */

const ROOT = path.join(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const compose = read('docker-compose.yml');
const envExample = read('.env.example');
const definitions = JSON.parse(read('rabbitmq-definitions.json')) as {
  users: { name: string; password_hash: string; tags: string[] }[];
};

/** The one value of `key: value` in docker-compose.yml. */
function composeValue(key: string): string {
  const values = [...compose.matchAll(new RegExp(`^\\s+${key}: (\\S+)$`, 'gm'))].map((m) =>
    m[1]!.replace(/^'|'$/g, ''),
  );
  expect(values).toHaveLength(1);
  return values[0]!;
}

/** The URL `NAME=…` in .env.example; `exported` for the commented `# export NAME=…` lines meant for npm test. */
function envExampleUrl(name: string, exported = false): URL {
  const prefix = exported ? `# export ${name}=` : `${name}=`;
  const lines = envExample.split('\n').filter((l) => l.startsWith(prefix));
  expect(lines).toHaveLength(1);
  return new URL(lines[0]!.slice(prefix.length));
}

const credentials = (url: URL) => [decodeURIComponent(url.username), decodeURIComponent(url.password)];

/** Whether the definitions file has `user` with `password` and these tags. */
function definitionsUser(user: string, password: string) {
  const found = definitions.users.find((u) => u.name === user);
  expect(found).toBeDefined();
  const salt = Buffer.from(found!.password_hash, 'base64').subarray(0, 4);
  return { tags: found!.tags, passwordMatches: hashPassword(password, salt) === found!.password_hash };
}

test('when the service logs into RabbitMQ with the compose URL, then the definitions file has that user, untagged, with that password, and the broker health check uses it', () => {
  const [user, password] = credentials(new URL(composeValue('AMQP_URL')));
  expect(definitionsUser(user!, password!)).toEqual({ tags: [], passwordMatches: true });
  expect(compose).toContain(`rabbitmqctl -q authenticate_user ${user} ${password}'`);
  expect(credentials(envExampleUrl('AMQP_URL'))).toEqual([user, password]);
});

test('when npm test logs into the compose RabbitMQ as in .env.example, then that user is an administrator with that password', () => {
  const [user, password] = credentials(envExampleUrl('AMQP_URL', true));
  expect(definitionsUser(user!, password!)).toEqual({ tags: ['administrator'], passwordMatches: true });
  expect(credentials(envExampleUrl('RABBITMQ_MANAGEMENT_URL', true))).toEqual([user, password]);
  expect(credentials(envExampleUrl('RABBITMQ_MANAGEMENT_URL'))).toEqual([user, password]);
});

test('when the service logs into MySQL with the compose URL, then it is the user the init script creates, on its database', () => {
  const url = new URL(composeValue('MYSQL_URL'));
  expect(credentials(url)).toEqual([composeValue('ORDER_TIMEOUT_DB_USER'), composeValue('ORDER_TIMEOUT_DB_PASSWORD')]);
  expect(url.pathname).toBe(`/${composeValue('MYSQL_DATABASE')}`);
  const local = envExampleUrl('MYSQL_URL');
  expect([...credentials(local), local.pathname]).toEqual([...credentials(url), url.pathname]);
  expect(credentials(envExampleUrl('MYSQL_URL', true))).toEqual(['root', composeValue('MYSQL_ROOT_PASSWORD')]);
});
