import type { Knex } from 'knex';
import type { RefundReason } from '../db/payments-repo';
import type { AmountsByKind } from '../domain/holds';
import type { LatePaymentPolicy } from './receive-payment';
import type { ClosedOrder } from '../db/order-transitions';
import type { Order } from '../db/orders-repo';
import type { EventWriting } from '../db/order-event-outbox';
import type { OutboxMessage } from '../db/outbox-repo';
import type { PolicyHolder } from '../domain/policy';

/** What every use case (orders, products, stats) needs from the running service: database, clock, policy, hooks. */
export interface UseCaseDeps {
  db: Knex;
  /** The timer policy in force (payment windows, reminders, auto-complete), kept current from the database. */
  policy: PolicyHolder;
  /** The clock; every timestamp the service writes comes from it. */
  now: () => Date;
  /** What a payment for an order that timed out does: revive it if everything it held is still there, or refund. */
  latePaymentPolicy: LatePaymentPolicy;
  /** Names this process in outbox claims. */
  processId: string;
  /** How long a freshly written outbox row stays claimed by this process. */
  claimForMs: number;
  /** How order events for other systems are written (contract §9); absent when `events.enabled` is off. */
  events?: EventWriting;
  /** Called after commit with the timer messages a transition started (the outbox rows), to publish them at once. */
  onScheduled?: (messages: OutboxMessage[]) => void;
  /** Called after a cancel gave back what the order held, per kind (closes report theirs with `onClosed`). */
  onReturned?: (returned: AmountsByKind) => void;
  /** Called after orders were closed (any source), e.g. for metrics. */
  onClosed?: (closed: ClosedOrder[], source: string) => void;
  /** Called after commit with a newly created order (not for an idempotent replay), e.g. for metrics. */
  onCreated?: (order: Order) => void;
  /** Called after an order was paid or revived (not for a replayed notification), e.g. for metrics. */
  onPaid?: (order: Order) => void;
  /** Called after a payment for an order that timed out revived it or was stored for a refund. */
  onLatePayment?: (outcome: 'revived' | 'refund') => void;
  /** Called after a payment was stored as REFUND_REQUIRED, with why. */
  onRefundRequired?: (reason: RefundReason) => void;
}
