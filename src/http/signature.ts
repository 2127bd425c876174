import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { AppError } from '../errors';

const RAW_BODY = Symbol('rawBody');
type WithRawBody = IncomingMessage & { [RAW_BODY]?: Buffer };

/** For express.json's `verify`: keeps the bytes of the body as received, which the signature covers. */
export function keepRawBody(req: IncomingMessage, _res: unknown, body: Buffer): void {
  (req as WithRawBody)[RAW_BODY] = body;
}

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/**
 * With a secret, the request must carry `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (compared in
 * constant time), else 401 `invalid-signature`; without one, anything passes (development).
 */
export function requireSignature(secret: string): RequestHandler {
  return (req, _res, next) => {
    if (secret === '') return next();
    const expected = createHmac('sha256', secret)
      .update((req as WithRawBody)[RAW_BODY] ?? Buffer.alloc(0))
      .digest();
    const given = SIGNATURE.exec((req.get('X-Signature') ?? '').trim())?.[1];
    if (!given || !timingSafeEqual(Buffer.from(given, 'hex'), expected)) {
      throw new AppError(
        401,
        'invalid-signature',
        'Invalid signature',
        given
          ? 'X-Signature does not match the body'
          : 'this route needs X-Signature: sha256=<hex HMAC-SHA256 of the raw body>',
      );
    }
    next();
  };
}
