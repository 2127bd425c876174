import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { parseDelayLevels } from '../../src/domain/delay-plan';
import { definitionsJson } from '../../src/messaging/definitions';
import { buildTopology } from '../../src/messaging/topology';
import { startService } from '../../src/main';
import { withChannel } from '../support/amqp';
import { deleteVhost, dropDatabase, management, scratchDatabaseUrl, scratchVhost } from '../support/scratch';

const root = path.join(__dirname, '..', '..');
const defaults = JSON.parse(readFileSync(path.join(root, 'config', 'default.json'), 'utf8'));
const defaultTopology = () =>
  buildTopology({ levels: parseDelayLevels(defaults.delayLevels), deliveryLimit: defaults.closer.deliveryLimit });

describe('rabbitmq-definitions.json', () => {
  test('the committed file equals what `topology export` writes for the default configuration', () => {
    const committed = readFileSync(path.join(root, 'rabbitmq-definitions.json'), 'utf8');
    expect(committed).toBe(definitionsJson(defaultTopology()));
  });

  test('when imported into a real broker, then every queue exists with the arguments of the code', async () => {
    const { vhost } = await scratchVhost();
    try {
      const definitions = JSON.parse(definitionsJson(defaultTopology()));
      // Per-vhost import takes objects without a vhost; users and permissions stay out of the shared broker.
      const strip = (items: Record<string, unknown>[]) => items.map(({ vhost: _v, ...rest }) => rest);
      await management(`/definitions/${encodeURIComponent(vhost)}`, {
        method: 'POST',
        body: {
          queues: strip(definitions.queues),
          exchanges: strip(definitions.exchanges),
          bindings: strip(definitions.bindings),
        },
      });
      const queues = (await management(`/queues/${encodeURIComponent(vhost)}`)) as {
        name: string;
        arguments: Record<string, unknown>;
        type: string;
      }[];
      for (const q of defaultTopology().queues) {
        const live = queues.find((l) => l.name === q.name);
        expect(live).toBeDefined();
        expect(live!.type).toBe('quorum');
        expect(live!.arguments).toEqual(q.arguments);
      }
      const bindings = (await management(`/bindings/${encodeURIComponent(vhost)}`)) as {
        source: string;
        destination: string;
        routing_key: string;
      }[];
      expect(
        bindings
          .filter((b) => b.source === 'order.delay')
          .map((b) => b.routing_key)
          .sort(),
      ).toEqual(
        parseDelayLevels(defaults.delayLevels)
          .map((l) => l.name)
          .sort(),
      );
    } finally {
      await deleteVhost(vhost);
    }
  });
});

describe('declaring the topology', () => {
  test('when order.timeout already exists with other arguments, then start-up stops with a message naming the queue and the argument', async () => {
    const { vhost, url } = await scratchVhost();
    const dbUrl = scratchDatabaseUrl();
    try {
      await withChannel(url, async (ch) => {
        await ch.assertQueue('order.timeout', { durable: true, arguments: { 'x-queue-type': 'classic' } });
      });
      const config = loadConfig({ http: { port: 0 }, amqp: { url }, mysql: { url: dbUrl } });
      await expect(startService(config)).rejects.toThrow(
        /queue 'order\.timeout' .*already exists with a different x-[a-z-]+: the broker has none, this service wants/,
      );
    } finally {
      await deleteVhost(vhost);
      await dropDatabase(dbUrl);
    }
  });
});
