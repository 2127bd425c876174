import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

/** The service (`src/main.ts`) running as a process of its own, as in production. */
export interface ServiceChild {
  child: ChildProcess;
  pid: number;
  /** The port it listens on: it starts with HTTP_PORT=0, the OS picks a free one, and its log says which. */
  port: number;
  baseUrl: string;
  /** What it printed, stdout and stderr as they came, up to the last `keepOutput` characters. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (SIGKILL unless told) unless it has exited, and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  /** Node.js options before the script, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** How long start-up (listening, then /readyz 200) may take. */
  timeoutMs?: number;
  /** Characters of output kept (the latest). */
  keepOutput?: number;
  /** Resolve once it listens, without waiting for /readyz (a service whose broker or database is down). */
  skipReady?: boolean;
}

/** The port from the service's `{"message":"listening","port":N}` log line in `output`, if it is there yet. */
export function listeningPort(output: string): number | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"listening"')) continue;
    try {
      const entry = JSON.parse(line) as { message?: unknown; port?: unknown };
      if (entry.message === 'listening' && Number.isInteger(entry.port)) return entry.port as number;
    } catch {
      /* not a JSON line, or cut short */
    }
  }
  return undefined;
}

// The `listening` line is logged at info.
const QUIET_LEVELS = new Set(['error', 'warn']);

/**
 * Starts the service on HTTP_PORT=0 with `env` over this process's environment, learns its port from its log
 * (stdout or stderr: either may carry the logs) and waits until /readyz answers 200. Choosing a port instead
 * races every other process on the machine for it (a random one in Linux's ephemeral range once collided
 * with an outgoing connection's).
 */
export async function spawnService(env: Record<string, string>, opts: SpawnOptions = {}): Promise<ServiceChild> {
  const { nodeArgs = [], timeoutMs = 30_000, keepOutput = 1_000_000 } = opts;
  const childEnv = { ...process.env, LOG_LEVEL: 'info', ...env, HTTP_PORT: '0' };
  if (QUIET_LEVELS.has(childEnv.LOG_LEVEL))
    throw new Error(`LOG_LEVEL=${childEnv.LOG_LEVEL} hides the "listening" log line that tells the port`);
  const child = spawn(process.execPath, [...nodeArgs, '--require', 'tsx/cjs', 'src/main.ts'], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let port: number | undefined;
  const onData = (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-keepOutput);
    port ??= listeningPort(out);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (!gone) child.kill(signal);
    return exited;
  };

  const deadline = Date.now() + timeoutMs;
  const fail = async (why: string) => {
    await kill();
    return new Error(`the service ${why}; its output:\n${out.slice(-5_000)}`);
  };
  while (port === undefined || (!opts.skipReady && !(await ready(port)))) {
    if (gone) throw await fail('exited during start-up');
    if (Date.now() > deadline)
      throw await fail(port === undefined ? `logged no "listening" line within ${timeoutMs} ms` : 'never got ready');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    pid: child.pid!,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    output: () => out,
    exited,
    kill,
  };
}

const ready = (port: number) =>
  fetch(`http://127.0.0.1:${port}/readyz`).then(
    (res) => res.status === 200,
    () => false,
  );
