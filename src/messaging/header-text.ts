/** An AMQP header value as text (strings may arrive as Buffers, timestamps as Dates); null when absent. */
export const headerText = (v: unknown): string | null =>
  v === undefined || v === null
    ? null
    : Buffer.isBuffer(v)
      ? v.toString('utf8')
      : typeof v === 'string'
        ? v
        : v instanceof Date
          ? v.toISOString()
          : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint'
            ? v.toString()
            : JSON.stringify(v);
