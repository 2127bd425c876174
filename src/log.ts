import winston from 'winston';

/** The process-wide JSON logger; `setLogLevel` applies the configured level once config is loaded. */
export const logger = winston.createLogger({
  level: process.env.LOG_LEVEL ?? 'info',
  format: winston.format.combine(
    winston.format.timestamp(),
    winston.format.errors({ stack: true }),
    winston.format.json(),
  ),
  defaultMeta: { service: 'order-timeout' },
  transports: [
    new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] }),
  ],
});

export function setLogLevel(level: string): void {
  logger.level = level;
}

/** The message of an unknown thrown value, for log fields and park reasons. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
