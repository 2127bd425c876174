import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from '../errors';

const BEARER = /^Bearer +(\S+) *$/;
const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * The admin routes need `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time (digests of equal length,
 * so neither the content nor the length of the token leaks through timing). Without a configured token the routes
 * answer 401 to everyone: the admin API is off.
 */
export function requireAdminToken(token: string): RequestHandler {
  const expected = token === '' ? undefined : digest(token);
  return (req, res, next) => {
    res.set('WWW-Authenticate', 'Bearer realm="order-timeout admin"');
    if (!expected)
      throw new AppError(401, 'unauthorized', 'Unauthorized', 'the admin API is off: set ADMIN_TOKEN to turn it on');
    const given = BEARER.exec(req.get('Authorization') ?? '')?.[1];
    if (!given)
      throw new AppError(401, 'unauthorized', 'Unauthorized', 'this route needs Authorization: Bearer <ADMIN_TOKEN>');
    if (!timingSafeEqual(digest(given), expected))
      throw new AppError(401, 'unauthorized', 'Unauthorized', 'the bearer token is not the admin token');
    res.removeHeader('WWW-Authenticate');
    next();
  };
}
