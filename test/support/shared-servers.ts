/** The machine's own MariaDB and RabbitMQ, which every test shares (scratch databases and vhosts on them). */
export const SHARED_SERVERS = {
  mysqlUrl: process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/order_timeout_test',
  amqpUrl: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  /** With credentials in it. */
  managementUrl: process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672',
};

/** Connection options for the server of a MySQL URL (root and no password unless it says otherwise). */
export function mysqlServerOf(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
  };
}
