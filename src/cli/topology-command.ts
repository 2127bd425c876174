import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { redactUrlList } from '../broker-urls';
import { definitionsJson, isPasswordHash, LOCAL_USERS, type DefinitionsUser } from '../messaging/definitions';
import { ManagementApi, vhostOf } from '../messaging/management-api';
import { serviceTopology } from '../messaging/service-topology';
import { checkTopology } from '../messaging/topology-check';
import { errorMessage } from '../log';
import { cliConfig, CliError } from './cli-context';

interface ExportOptions {
  out: string;
  vhost: string;
  user: string;
  password?: string;
  passwordHash?: string;
  admin: boolean;
  adminUser: string;
  adminPassword?: string;
  adminPasswordHash?: string;
}

/** One user of `topology export`: a password, a hash, or (for the default name) the local stack's password. */
function exportUser(
  prefix: string,
  name: string,
  password: string | undefined,
  passwordHash: string | undefined,
  local: { name: string; password: string },
): DefinitionsUser {
  if (password !== undefined && passwordHash !== undefined)
    throw new CliError(`--${prefix}password and --${prefix}password-hash: give one of them, not both`);
  if (passwordHash !== undefined) {
    if (!isPasswordHash(passwordHash))
      throw new CliError(
        `--${prefix}password-hash: not a rabbit_password_hashing_sha256 hash (base64 of 36 bytes, as rabbitmqctl hash_password prints)`,
      );
    return { name, passwordHash };
  }
  if (password === '') throw new CliError(`--${prefix}password: must not be empty`);
  if (password === undefined && name !== local.name)
    throw new CliError(`--${prefix}user ${name}: give its --${prefix}password or --${prefix}password-hash`);
  return { name, password: password ?? local.password };
}

export function topologyCommand(program: Command): void {
  const topology = program.command('topology').description('the RabbitMQ objects the service declares');

  topology
    .command('export')
    .description(
      'write the topology, a service user and an administrator as a RabbitMQ definitions file (for load_definitions)',
    )
    .option('--out <file>', 'where to write it; - for stdout', 'rabbitmq-definitions.json')
    .option('--vhost <vhost>', 'the vhost of the objects and permissions', '/')
    .option(
      '--user <name>',
      "the service's user: no tags, permissions on order.* objects only",
      LOCAL_USERS.service.name,
    )
    .option('--password <password>', `its password (default: the local stack's, ${LOCAL_USERS.service.password})`)
    .option('--password-hash <hash>', 'its password as `rabbitmqctl hash_password` prints it, instead of --password')
    .option('--admin-user <name>', 'an administrator, for people and the test suite', LOCAL_USERS.admin.name)
    .option('--admin-password <password>', `its password (default: the local stack's, ${LOCAL_USERS.admin.password})`)
    .option('--admin-password-hash <hash>', 'its password as `rabbitmqctl hash_password` prints it')
    .option('--no-admin', 'leave the administrator out')
    .action((opts: ExportOptions) => {
      const config = cliConfig();
      const json = definitionsJson(serviceTopology(config), {
        vhost: opts.vhost,
        service: exportUser('', opts.user, opts.password, opts.passwordHash, LOCAL_USERS.service),
        admin:
          opts.admin &&
          exportUser('admin-', opts.adminUser, opts.adminPassword, opts.adminPasswordHash, LOCAL_USERS.admin),
      });
      if (opts.out === '-') process.stdout.write(json);
      else {
        writeFileSync(opts.out, json);
        process.stdout.write(`wrote ${opts.out}\n`);
      }
    });

  topology
    .command('check')
    .description('compare the live broker with the code: missing objects, differing arguments (exit 1 on a difference)')
    .option('--json', 'print the differences as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = cliConfig();
      const api = new ManagementApi(config.amqp.managementUrl, config.amqp.url);
      const vhost = vhostOf(config.amqp.url);
      let diffs;
      try {
        diffs = await checkTopology(api, vhost, serviceTopology(config));
      } catch (err) {
        throw new CliError(`cannot read the broker (${redactUrlList(config.amqp.url)}): ${errorMessage(err)}`);
      }
      if (opts.json)
        process.stdout.write(`${JSON.stringify({ vhost, ok: diffs.length === 0, differences: diffs }, null, 2)}\n`);
      else if (diffs.length === 0) process.stdout.write(`topology matches the code (vhost ${vhost})\n`);
      else process.stdout.write(`${diffs.map((d) => `${d.object}: ${d.problem}`).join('\n')}\n`);
      if (diffs.length > 0) process.exitCode = 1;
    });
}
