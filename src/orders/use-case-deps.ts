import type { Knex } from 'knex';
import type { AmountsByKind } from '../domain/holds';
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
  /** Called after an order was paid (not for a repeated pay with the same ref), e.g. for metrics. */
  onPaid?: (order: Order) => void;
}
