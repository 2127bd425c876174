import { privateBroker, privateDatabase } from '../../support/private-services';

// A RabbitMQ node and a MariaDB server of the fault suite's own, on other ports, so scenarios can kill -9,
// SIGSTOP or stop them without touching the services every other test shares. Fixed names and ports (the
// docs/reliability.md documents them); the disruptive tests use other ones (test/disruptive/support/private-servers.ts).
const ROOT = '/tmp/order-timeout-faults';

const broker = privateBroker({
  node: 'otfaults@localhost',
  dir: `${ROOT}/rabbitmq`,
  amqpPort: 5673,
  managementPort: 15673,
  distPort: 25673,
});
const database = privateDatabase({ dir: `${ROOT}/mariadb`, port: 3307 });

export const PRIVATE_BROKER = {
  node: broker.node,
  amqpUrl: broker.amqpUrl,
  managementUrl: broker.managementUrl,
};

export const startPrivateBroker = (keepData = false) => broker.start(keepData);
export const killPrivateBroker = () => broker.kill();
export const pausePrivateBroker = () => broker.pause();
export const resumePrivateBroker = () => broker.resume();
export const stopPrivateBroker = () => broker.stop();
export const privateVhost = (name: string) => broker.vhost(name);

export const startPrivateDatabase = () => database.start();
export const stopPrivateDatabase = () => database.stop();
export const privateDatabaseUrl = (name: string) => database.url(name);
