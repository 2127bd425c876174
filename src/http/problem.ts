import type { ErrorRequestHandler } from 'express';
import { AppError, type ProblemType } from '../errors';
import { overloaded, RETRY_AFTER_SECONDS } from './admission';
import { errorFields, logger } from '../log';

/** The `type` member of a problem: a URN per problem type. */
export const problemUri = (type: ProblemType) => `urn:order-timeout:problem:${type}`;

/** body-parser's error types, mapped to ours. */
const BODY_ERRORS: Record<string, { status: number; type: ProblemType; title: string }> = {
  'entity.too.large': { status: 413, type: 'payload-too-large', title: 'Payload too large' },
  'entity.parse.failed': { status: 400, type: 'bad-request', title: 'Malformed JSON' },
  'encoding.unsupported': { status: 415, type: 'unsupported-media-type', title: 'Unsupported encoding' },
  'charset.unsupported': { status: 415, type: 'unsupported-media-type', title: 'Unsupported charset' },
  'request.aborted': { status: 400, type: 'bad-request', title: 'Request aborted' },
  'request.size.invalid': { status: 400, type: 'bad-request', title: 'Request size mismatch' },
  'stream.encoding.set': { status: 400, type: 'bad-request', title: 'Bad request stream' },
};

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // The database pool had no connection free in time: load, not a fault; the client may retry.
  if ((err as Error | undefined)?.name === 'KnexTimeoutError')
    return overloaded('no database connection free in time; retry');
  // A row the request needs stayed locked too long, or two requests deadlocked: contention, rolled back; retry.
  const code = (err as { code?: unknown }).code;
  if (code === 'ER_LOCK_WAIT_TIMEOUT' || code === 'ER_LOCK_DEADLOCK')
    return overloaded('the rows this request needs are busy (lock contention); nothing was done, retry');
  const bodyError = BODY_ERRORS[(err as { type?: string }).type ?? ''];
  if (bodyError) {
    const detail = bodyError.status === 413 ? `request body is larger than the limit` : (err as Error).message;
    return new AppError(bodyError.status, bodyError.type, bodyError.title, detail);
  }
  // Other client errors raised by express and body-parser (http-errors: a 4xx `status`, `expose`), e.g. a path
  // whose percent-encoding is malformed, or a body that does not decompress as its Content-Encoding says.
  const status = (err as { status?: unknown }).status;
  if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 500) {
    const exposed = (err as { expose?: unknown }).expose === true && err instanceof Error;
    const byStatus: Record<number, [ProblemType, string]> = {
      404: ['not-found', 'Not found'],
      413: ['payload-too-large', 'Payload too large'],
      415: ['unsupported-media-type', 'Unsupported media type'],
    };
    const [type, title] = byStatus[status] ?? ['bad-request', 'Bad request'];
    return new AppError(status, type, title, exposed ? err.message.slice(0, 200) : title.toLowerCase());
  }
  return new AppError(500, 'internal', 'Internal error', 'the request could not be completed; it has been logged');
}

/** The one place errors become `application/problem+json` (RFC 9457). */
export const problemHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const problem = toAppError(err);
  const meta = {
    requestId: res.locals.requestId as string | undefined,
    method: req.method,
    path: req.path,
    status: problem.status,
  };
  // Shedding is load, not a fault, and comes in floods: counted in /metrics, logged only at the http level.
  if (problem.type === 'overloaded') logger.http('request shed', { ...meta, detail: problem.detail });
  else if (problem.status >= 500) logger.error('request failed', { ...meta, ...errorFields(err) });
  else logger.info('request rejected', { ...meta, type: problem.type, detail: problem.detail });
  if (res.headersSent) return;
  if (problem.type === 'overloaded') res.set('Retry-After', String(RETRY_AFTER_SECONDS));
  res
    .status(problem.status)
    .type('application/problem+json')
    // Extra members first: they must never overwrite the standard ones (`status` is the HTTP status).
    .send(
      JSON.stringify({
        ...problem.extra,
        type: problemUri(problem.type),
        title: problem.title,
        status: problem.status,
        detail: problem.detail,
      }),
    );
};
