import type { AppConfig } from '../config';
import { targetId } from '../webhooks/targets';
import { buildTopology, type Topology } from './topology';

/**
 * The topology a configuration asks for (the service's, `topology export`'s and `topology check`'s): its delay
 * levels, the closer's delivery limit, a queue per webhook URL, the quorum queues' initial group size.
 */
export function serviceTopology(config: Pick<AppConfig, 'delayLevels' | 'closer' | 'webhooks' | 'amqp'>): Topology {
  return buildTopology({
    levels: config.delayLevels,
    deliveryLimit: config.closer.deliveryLimit,
    webhookTargets: config.webhooks.urls.map(targetId),
    quorumInitialGroupSize: config.amqp.quorumInitialGroupSize,
  });
}
