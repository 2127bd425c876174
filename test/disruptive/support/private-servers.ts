import {
  claimSlot,
  privateBroker,
  privateDatabase,
  type PrivateBroker,
  type PrivateDatabase,
} from '../../support/private-services';

// The disruptive tests stop and restart a RabbitMQ node and a MariaDB server of their own. They may run while
// the fault suite runs (its node otfaults, ports 5673/15673/25673 and 3307, /tmp/order-timeout-faults), and
// while someone else on the machine runs them too, so each file claims a numbered slot (0–9): node
// otdisrupt<n>@localhost, AMQP 5690+n, management 15690+n, Erlang distribution 25690+n, MariaDB 3320+n, all
// under /tmp/order-timeout-disruptive/<n>. None of them is in Linux's ephemeral port range (32768–60999).
const ROOT = '/tmp/order-timeout-disruptive';
const AMQP = 5690;
const MANAGEMENT = 15690;
const DIST = 25690;
const MYSQL = 3320;

export interface PrivateServers {
  broker: PrivateBroker;
  database: PrivateDatabase;
  /** Stops whatever of the two is running and gives the slot back. */
  release(): Promise<void>;
}

/** A broker and a database (not started: a test starts the one it breaks) in a slot of this process's own. */
export async function claimPrivateServers(): Promise<PrivateServers> {
  const slot = await claimSlot(ROOT, [AMQP, MANAGEMENT, DIST, MYSQL]);
  const broker = privateBroker({
    node: `otdisrupt${slot.n}@localhost`,
    dir: `${slot.dir}/rabbitmq`,
    amqpPort: slot.port(AMQP),
    managementPort: slot.port(MANAGEMENT),
    distPort: slot.port(DIST),
  });
  const database = privateDatabase({ dir: `${slot.dir}/mariadb`, port: slot.port(MYSQL) });
  return {
    broker,
    database,
    async release() {
      await broker.stop();
      await database.stop();
      slot.release();
    },
  };
}
