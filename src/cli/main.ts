import { Command, CommanderError } from 'commander';
import { loadEnvFile } from '../env-file';
import { errorMessage, logToStderr } from '../log';
import { auditCommand } from './audit-command';
import { CliError } from './cli-context';
import { dbCommand } from './db-command';
import { deadLettersCommand } from './dead-letters-command';
import { policyCommand } from './policy-command';
import { eventsCommand } from './events-command';
import { refundsCommand } from './refunds-command';
import { sweepCommand } from './sweep-command';
import { topologyCommand } from './topology-command';

async function run(argv: string[]): Promise<void> {
  logToStderr();
  loadEnvFile();
  const program = new Command('order-timeout')
    .description(
      'Operate the order-timeout service: database migrations, dead letters, sweeps, audits, refunds, the timer policy, order events, RabbitMQ topology.',
    )
    .exitOverride()
    // Usage errors are one line (commander's own, e.g. "error: unknown option '--bogus'"); --help shows the rest.
    .showHelpAfterError(false);
  dbCommand(program);
  deadLettersCommand(program);
  topologyCommand(program);
  sweepCommand(program);
  auditCommand(program);
  refundsCommand(program);
  policyCommand(program);
  eventsCommand(program);
  await program.parseAsync(argv);
}

run(process.argv).catch((err) => {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; usage errors were already printed by commander.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  const code = err instanceof CliError ? err.exitCode : 2;
  process.stderr.write(`order-timeout: ${errorMessage(err)}\n`);
  process.exit(code);
});
