import { planDelay, type DelayLevel } from '../domain/delay-plan';
import { encodeTimeoutMessage, type TimeoutMessage } from '../domain/timeout-message';
import type { Publisher } from './publisher';
import { DELAY_EXCHANGE, TIMEOUT_EXCHANGE, TIMEOUT_ROUTING_KEY } from './topology';

/**
 * Sends a timeout towards its deadline: into the largest delay level that does not overshoot it, or, when
 * the deadline is nearer than the smallest level, straight to the closer (which waits out the rest).
 * Planned at publish time, so a message that sat in the outbox is not late by the time it sat there.
 */
export async function scheduleTimeout(
  publisher: Publisher,
  levels: readonly DelayLevel[],
  message: TimeoutMessage,
  messageId: string,
  now: Date,
): Promise<string> {
  const level = planDelay(new Date(message.expiresAt).getTime() - now.getTime(), levels);
  const content = encodeTimeoutMessage(message);
  if (level) {
    await publisher.publish(DELAY_EXCHANGE, level.name, content, { messageId });
    return `${DELAY_EXCHANGE}.${level.name}`;
  }
  await publisher.publish(TIMEOUT_EXCHANGE, TIMEOUT_ROUTING_KEY, content, { messageId });
  return TIMEOUT_EXCHANGE;
}

/** Sends a message to the delay level `level` regardless of its deadline (back-off after a failure). */
export async function delayTimeout(
  publisher: Publisher,
  level: DelayLevel,
  message: TimeoutMessage,
  messageId: string,
): Promise<void> {
  await publisher.publish(DELAY_EXCHANGE, level.name, encodeTimeoutMessage(message), { messageId });
}
