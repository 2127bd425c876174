import type { Channel, ConsumeMessage } from 'amqplib';

/** A message taken from a queue, with the channel it must be settled on. */
export interface Received {
  channel: Channel;
  msg: ConsumeMessage;
}

// A message's channel may have closed since delivery; the broker then redelivers it, which closing tolerates.

/** Acknowledges: the outcome is durable (closed, skipped, sent on, parked), the broker may forget the message. */
export function acknowledge(d: Received): void {
  try {
    d.channel.ack(d.msg);
  } catch {
    /* channel gone: redelivered later */
  }
}

/**
 * Hands the message back to the broker after a failure (it is redelivered, here or to another process). A
 * reject, not a nack: from RabbitMQ 4.3 only a reject counts towards the delivery limit that parks poison messages.
 */
export function rejectForRedelivery(d: Received): void {
  try {
    d.channel.reject(d.msg, true);
  } catch {
    /* channel gone: redelivered later */
  }
}

/**
 * Hands the message back without blaming it (this process is stopping): a nack, which RabbitMQ 4.3+ does not
 * count towards the delivery limit, since the message did nothing wrong.
 */
export function handBack(d: Received): void {
  try {
    d.channel.nack(d.msg, false, true);
  } catch {
    /* channel gone: redelivered later */
  }
}
