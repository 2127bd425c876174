import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel } from 'amqplib';
import { errorFields, logger } from '../log';
import { declareOrRecord, reconnectOnChannelLoss, type BrokerHealth } from './broker';
import { assertTopology, type Topology } from './topology';

export interface PublishProps {
  messageId: string;
  headers?: Record<string, unknown>;
  contentType?: string;
  /**
   * Whether a message no queue takes is a failure (default true: a timeout must reach its queue). Events set false:
   * on a topic exchange with no consumer bound for a type, nobody listening is normal.
   */
  mandatory?: boolean;
  /** When the message was made (AMQP `timestamp`, whole seconds); default now. */
  timestamp?: Date;
}

/** Publishes on a confirm channel; a publish resolves only once the broker has taken the message. */
export class Publisher {
  private readonly returned = new Set<string>();
  private readonly channel: ChannelWrapper;
  private stopping = false;

  constructor(
    private readonly connection: AmqpConnectionManager,
    topology: Topology,
    publishTimeoutMs: number,
    health: BrokerHealth,
  ) {
    this.channel = connection.createChannel({
      name: 'publisher',
      confirm: true,
      publishTimeout: publishTimeoutMs,
      setup: async (channel: ConfirmChannel) => {
        reconnectOnChannelLoss(channel, connection, 'publisher', () => this.stopping, health);
        // The broker sends basic.return before the confirm of an unroutable mandatory message.
        channel.on('return', (msg) => {
          if (msg.properties.messageId) this.returned.add(String(msg.properties.messageId));
        });
        await declareOrRecord(health, () => assertTopology(channel, topology));
      },
    });
    this.channel.on('error', (err) => logger.warn('publisher channel setup failed', { ...errorFields(err) }));
  }

  isConnected(): boolean {
    return this.connection.isConnected();
  }

  /** Persistent publish, mandatory unless told; rejects when unroutable (if mandatory), nacked, or not confirmed in time. */
  async publish(exchange: string, routingKey: string, content: Buffer, props: PublishProps): Promise<void> {
    const mandatory = props.mandatory ?? true;
    await this.channel.publish(exchange, routingKey, content, {
      persistent: true,
      mandatory,
      contentType: props.contentType ?? 'application/json',
      messageId: props.messageId,
      timestamp: Math.floor((props.timestamp?.getTime() ?? Date.now()) / 1000),
      headers: props.headers,
    });
    if (mandatory && this.returned.delete(props.messageId)) {
      throw new Error(
        `message ${props.messageId} was unroutable: no queue bound to ${exchange || '(default exchange)'} with key ${routingKey}`,
      );
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    await this.channel.close();
  }
}
