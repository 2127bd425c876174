import winston from 'winston';

const LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'];

// Services log to stdout (where container runtimes and process managers collect it); the CLI keeps stdout for
// its own output (tables, JSON) and sends log lines to stderr.
const consoleTransport = (stream: 'stdout' | 'stderr') =>
  new winston.transports.Console({ stderrLevels: stream === 'stderr' ? LEVELS : [] });

/** The process-wide JSON logger; `setLogLevel` applies the configured level once config is loaded. */
export const logger = winston.createLogger({
  level: process.env.LOG_LEVEL ?? 'info',
  format: winston.format.combine(
    winston.format.timestamp(),
    winston.format.errors({ stack: true }),
    winston.format.json(),
  ),
  defaultMeta: { service: 'order-timeout' },
  transports: [consoleTransport('stdout')],
});

export function setLogLevel(level: string): void {
  logger.level = level;
}

/** Sends every log line to stderr from now on: for the CLI, whose stdout is its output. */
export function logToStderr(): void {
  logger.clear().add(consoleTransport('stderr'));
}

/** The message of an unknown thrown value, for park reasons and one-line CLI errors. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Log fields for a caught error: its message, its stack, and the driver's error code where there is one
 * (`ER_LOCK_DEADLOCK`, `ECONNREFUSED`), so an operator sees where it came from, not only what it said.
 */
export function errorFields(err: unknown): { err: string; stack?: string; code?: string } {
  if (!(err instanceof Error)) return { err: String(err) };
  const code = (err as { code?: unknown }).code;
  return { err: err.message, stack: err.stack, ...(typeof code === 'string' ? { code } : {}) };
}
