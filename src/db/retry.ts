import { logger } from '../log';

/** MySQL/MariaDB errors after which the same transaction, started afresh, can succeed. */
const RETRYABLE_CODES = ['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT'];

/** Runs `work` (one whole transaction) again on deadlock or lock-wait timeout, a few times, with jitter. */
export async function retryOnConflict<T>(work: () => Promise<T>, attempts = 6): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (!code || !RETRYABLE_CODES.includes(code) || attempt >= attempts) throw err;
      logger.debug('transaction conflict, retrying', { code, attempt });
      await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
    }
  }
}

/** True for errors that mean the database cannot be reached right now (as opposed to a bad statement). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  const message = err instanceof Error ? err.message : '';
  return (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'PROTOCOL_CONNECTION_LOST',
      'ER_CON_COUNT_ERROR',
      'EHOSTUNREACH',
    ].includes(code) ||
    code.startsWith('PROTOCOL_') ||
    /Knex: Timeout acquiring a connection|Connection lost|connect ETIMEDOUT|ECONNREFUSED/.test(message)
  );
}
