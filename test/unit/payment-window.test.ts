import { windowCategory, type PaymentTimeouts } from '../../src/domain/payment-window';

const timeouts: PaymentTimeouts = { default: 900_000, fresh: 300_000, flash: 1_000, slow: 3_600_000 };

describe('windowCategory', () => {
  it('when one product has the shortest window, then the order is in its category', () => {
    expect(windowCategory(['books', 'fresh', 'slow'], timeouts)).toEqual({ windowMs: 300_000, category: 'fresh' });
  });

  it('when the order is all unlisted categories, then it is in the first product category (not "default")', () => {
    expect(windowCategory(['books', 'toys'], timeouts)).toEqual({ windowMs: 900_000, category: 'books' });
  });

  it('when two categories tie for the shortest window, then the first in item order wins', () => {
    const tied: PaymentTimeouts = { default: 900_000, fresh: 300_000, dairy: 300_000 };
    expect(windowCategory(['books', 'dairy', 'fresh'], tied)).toEqual({ windowMs: 300_000, category: 'dairy' });
    expect(windowCategory(['fresh', 'dairy'], tied)).toEqual({ windowMs: 300_000, category: 'fresh' });
  });

  it('when a listed category is longer than the default, then an unlisted sibling gives the window and the category', () => {
    expect(windowCategory(['slow', 'books'], timeouts)).toEqual({ windowMs: 900_000, category: 'books' });
  });

  it('when the category list is empty, then the order gets the default window and category "default"', () => {
    expect(windowCategory([], timeouts)).toEqual({ windowMs: 900_000, category: 'default' });
  });

  it('when one product is in a listed category, then its window applies, even one longer than the default', () => {
    expect(windowCategory(['fresh'], timeouts).windowMs).toBe(300_000);
    expect(windowCategory(['slow'], timeouts).windowMs).toBe(3_600_000);
  });

  it('when the order mixes categories, then the shortest window wins whatever the item order', () => {
    expect(windowCategory(['books', 'fresh', 'flash'], timeouts).windowMs).toBe(1_000);
    expect(windowCategory(['fresh', 'books'], timeouts).windowMs).toBe(300_000);
  });

  it('when a category is named like an Object prototype member, then it is treated as unlisted', () => {
    expect(windowCategory(['toString'], { default: 900_000 })).toEqual({ windowMs: 900_000, category: 'toString' });
  });
});
