import { loadConfig, type AppConfig, type ConfigOverrides } from '../../src/config';
import { startService, type ServiceHandle } from '../../src/main';
import { deleteVhost, dropDatabase, eventually, scratchDatabaseUrl, scratchVhost, type Servers } from './scratch';

export interface TestService extends ServiceHandle {
  config: AppConfig;
  baseUrl: string;
  vhost: string;
  /** JSON request against the running service; returns status, headers and the parsed body. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  /** Stops the service and drops its scratch database and vhost. */
  destroy(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** Waits until the service at `baseUrl` answers /readyz 200, as a load balancer would before sending it work. */
const untilReady = (baseUrl: string, what: string) =>
  eventually(async () => (await fetch(`${baseUrl}/readyz`)).status === 200, 15_000, `${what} to be ready`);

/** A second service process of one deployment (e.g. another role): on `of`'s database and vhost, ready. */
export async function startBeside(
  of: TestService,
  overrides: ConfigOverrides = {},
): Promise<ServiceHandle & { baseUrl: string }> {
  const handle = await startService(
    loadConfig({
      http: { port: 0 },
      mysql: { url: of.config.mysql.url },
      amqp: { url: of.config.amqp.url },
      ...overrides,
    }),
  );
  const baseUrl = `http://127.0.0.1:${handle.port}`;
  try {
    await untilReady(baseUrl, 'the second service');
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return { ...handle, baseUrl };
}

/**
 * Starts the whole service on a scratch database and vhost, on a free port: on the shared servers, or on
 * the private ones `servers` names (tests that break a server).
 */
export async function startTestService(overrides: ConfigOverrides = {}, servers: Servers = {}): Promise<TestService> {
  const dbUrl = scratchDatabaseUrl(servers);
  const { vhost, url: amqpUrl } = await scratchVhost(servers);
  const config = loadConfig({
    http: { port: 0 },
    mysql: { url: dbUrl },
    amqp: { url: amqpUrl, ...(servers.managementUrl ? { managementUrl: servers.managementUrl } : {}) },
    ...overrides,
  });
  const handle = await startService(config);
  const baseUrl = `http://127.0.0.1:${handle.port}`;
  // The broker connection comes up a moment after start-up returns; tests begin once /readyz says so, as a load
  // balancer would, rather than each racing it.
  try {
    await untilReady(baseUrl, 'the test service');
  } catch (err) {
    await handle.stop();
    await dropDatabase(dbUrl);
    await deleteVhost(vhost, servers);
    throw err;
  }
  let stopped = false;
  return {
    ...handle,
    config,
    baseUrl,
    vhost,
    async api(method, path, body, headers = {}) {
      const res = await fetch(baseUrl + path, {
        method,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await handle.stop();
    },
    async destroy() {
      if (!stopped) {
        stopped = true;
        await handle.stop();
      }
      await dropDatabase(dbUrl);
      await deleteVhost(vhost, servers);
    },
  };
}
