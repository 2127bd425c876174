import { paymentWindow, type PaymentTimeouts } from '../../src/domain/payment-window';

const timeouts: PaymentTimeouts = { default: 900_000, fresh: 300_000, flash: 1_000, slow: 3_600_000 };

describe('paymentWindow', () => {
  it('when every product is in an unlisted category, then the window is the default', () => {
    expect(paymentWindow(['books', 'toys'], timeouts)).toBe(900_000);
  });

  it('when one product is in a listed category, then its window applies', () => {
    expect(paymentWindow(['fresh'], timeouts)).toBe(300_000);
  });

  it('when the order mixes categories, then the shortest window wins', () => {
    expect(paymentWindow(['books', 'fresh', 'flash'], timeouts)).toBe(1_000);
    expect(paymentWindow(['fresh', 'books'], timeouts)).toBe(300_000);
  });

  it('when a listed category has a window longer than the default, then an unlisted sibling (default) still wins', () => {
    expect(paymentWindow(['slow', 'books'], timeouts)).toBe(900_000);
    expect(paymentWindow(['slow'], timeouts)).toBe(3_600_000);
  });

  it('when the category list is empty, then the default applies', () => {
    expect(paymentWindow([], timeouts)).toBe(900_000);
  });

  it('when a category is named like an Object prototype member, then it is treated as unlisted', () => {
    expect(paymentWindow(['toString'], { default: 900_000 })).toBe(900_000);
  });
});
