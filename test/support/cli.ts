import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');

export interface CliResult {
  /** Exit code; null when the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliEnv {
  AMQP_URL?: string;
  MYSQL_URL?: string;
  [name: string]: string | undefined;
}

/** A running `order-timeout` CLI process: the child, and a promise of its result. */
export interface CliProcess {
  child: ChildProcess;
  result: Promise<CliResult>;
}

/** Starts the real CLI (`src/cli/main.ts` through tsx) as a child process with the test's environment. */
export function spawnCli(args: string[], env: CliEnv = {}, timeoutMs = 60_000): CliProcess {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'src/cli/main.ts', ...args], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const result = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `order-timeout ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, result };
}

/** Runs the real CLI to completion and returns its exit code and output. */
export function runCli(args: string[], env: CliEnv = {}, timeoutMs = 60_000): Promise<CliResult> {
  return spawnCli(args, env, timeoutMs).result;
}
