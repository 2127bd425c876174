import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { redactUrl } from '../config';
import { definitionsJson } from '../messaging/definitions';
import { ManagementApi, vhostOf } from '../messaging/management-api';
import { buildTopology } from '../messaging/topology';
import { checkTopology } from '../messaging/topology-check';
import { errorMessage } from '../log';
import { cliConfig, CliError } from './cli-context';

export function topologyCommand(program: Command): void {
  const topology = program.command('topology').description('the RabbitMQ objects the service declares');

  topology
    .command('export')
    .description('write the topology as a RabbitMQ definitions file (for load_definitions)')
    .option('--out <file>', 'where to write it; - for stdout', 'rabbitmq-definitions.json')
    .action((opts: { out: string }) => {
      const config = cliConfig();
      const json = definitionsJson(
        buildTopology({ levels: config.delayLevels, deliveryLimit: config.closer.deliveryLimit }),
      );
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
        diffs = await checkTopology(
          api,
          vhost,
          buildTopology({ levels: config.delayLevels, deliveryLimit: config.closer.deliveryLimit }),
        );
      } catch (err) {
        throw new CliError(`cannot read the broker (${redactUrl(config.amqp.url)}): ${errorMessage(err)}`);
      }
      if (opts.json)
        process.stdout.write(`${JSON.stringify({ vhost, ok: diffs.length === 0, differences: diffs }, null, 2)}\n`);
      else if (diffs.length === 0) process.stdout.write(`topology matches the code (vhost ${vhost})\n`);
      else process.stdout.write(`${diffs.map((d) => `${d.object}: ${d.problem}`).join('\n')}\n`);
      if (diffs.length > 0) process.exitCode = 1;
    });
}
