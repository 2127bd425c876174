import type { Knex } from 'knex';
import type { RefundReason } from '../db/payments-repo';
import type { AmountsByKind } from '../domain/holds';
import type { LatePaymentPolicy } from './receive-payment';
import type { ClosedOrder } from '../db/order-transitions';
import type { Order } from '../db/orders-repo';
import type { OutboxMessage } from '../db/outbox-repo';
import type { PaymentTimeouts } from '../domain/payment-window';

/** What every use case (orders, products, stats) needs from the running service: database, clock, policy, hooks. */
export interface UseCaseDeps {
  db: Knex;
  /** Payment window per category, in ms. */
  paymentTimeouts: PaymentTimeouts;
  /** The clock; every timestamp the service writes comes from it. */
  now: () => Date;
  /** What a payment for an order that timed out does: revive it if everything it held is still there, or refund. */
  latePaymentPolicy: LatePaymentPolicy;
  /** Names this process in outbox claims. */
  processId: string;
  /** How long a freshly written outbox row stays claimed by this process. */
  claimForMs: number;
  /** Called after commit with the new order's timeout message, to publish it at once. */
  onScheduled?: (message: OutboxMessage) => void;
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
