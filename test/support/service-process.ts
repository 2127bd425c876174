import { spawn, type ChildProcess } from 'node:child_process';
import { eventually } from './scratch';

/** A service (or CLI) running as a child process, its output from stdout and stderr together. */
export interface ServiceProcess {
  child: ChildProcess;
  /** Everything printed so far, stdout and stderr interleaved as it arrived. */
  output(): string;
  /** The JSON log lines printed so far (other lines skipped). */
  logLines(): Record<string, unknown>[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Waits for the `listening` log line and returns its port. */
  port(timeoutMs?: number): Promise<number>;
  /** SIGTERM, then the exit code; throws when the process has not exited within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<number | null>;
}

/**
 * Starts `node <args>` in `cwd` with the test's environment plus `env` (an undefined value removes a variable);
 * logs may go to stdout or stderr.
 */
export function spawnNode(
  args: string[],
  opts: { cwd: string; env: Record<string, string | undefined> },
): ServiceProcess {
  const env = { ...process.env, ...opts.env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const logLines = () =>
    out.split('\n').flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return []; // a line still being written
      }
    });
  return {
    child,
    output: () => out,
    logLines,
    exited,
    port: (timeoutMs = 30_000) =>
      eventually(
        async () => {
          if (child.exitCode !== null)
            throw new Error(`the process exited (${child.exitCode}) before listening:\n${out}`);
          const port = logLines().find((l) => l.message === 'listening')?.port;
          return typeof port === 'number' ? port : undefined;
        },
        timeoutMs,
        'the "listening" log line',
      ),
    async stop(timeoutMs = 25_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      const code = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        throw new Error(`the process did not exit within ${timeoutMs} ms of SIGTERM:\n${out}`);
      }
      return code;
    },
  };
}
