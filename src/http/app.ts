import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import { AppError } from '../errors';
import { logger } from '../log';
import type { UseCaseDeps } from '../orders/use-case-deps';
import { admission, type AdmissionOptions } from './admission';
import { openApiText } from './openapi';
import { problemHandler } from './problem';
import { keepRawBody } from './signature';
import { adminRoutes } from './routes/admin';
import { couponRoutes } from './routes/coupons';
import { orderRoutes } from './routes/orders';
import { paymentRoutes } from './routes/payments';
import { pointsRoutes } from './routes/points';
import { productRoutes } from './routes/products';
import { promotionRoutes } from './routes/promotions';
import { statsRoutes } from './routes/stats';

/** What the HTTP layer needs besides the order use cases. */
export interface HttpDeps {
  /**
   * Serve the API routes (default true: the process runs the `api` role). Without it only /healthz, /readyz,
   * /metrics and /openapi.json answer, and everything else is 404: a closer-only process is watched, not called.
   */
  serveApi?: boolean;
  /** What the product, order and stats routes run their use cases with. */
  useCases: UseCaseDeps;
  /** Shared secret signing payment notifications; empty: unsigned ones are accepted. */
  paymentWebhookSecret: string;
  /** Bearer token of the admin routes; empty: they answer 401. */
  adminToken: string;
  /** Largest accepted body in bytes. */
  bodyLimit: number;
  /** Resolves to the names of unreachable dependencies (empty when ready). */
  readiness: () => Promise<string[]>;
  metrics: Registry;
  /** Observes each request's duration, labelled by route pattern and status. */
  observeRequest?: (route: string, method: string, status: number, seconds: number) => void;
  /** Load shedding of the API routes (health, readiness, metrics and the OpenAPI document are never shed). */
  admission: AdmissionOptions;
}

export function createHttpApp(deps: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.get('X-Request-Id');
    const requestId = incoming && /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.set('X-Request-Id', requestId);
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const matched = req.route as { path: string } | undefined;
      const route = matched ? `${req.baseUrl}${matched.path}` : 'unmatched';
      deps.observeRequest?.(route, req.method, res.statusCode, seconds);
      // Building the entry costs even when the level is off; this runs for every request.
      if (!logger.isLevelEnabled('http')) return;
      logger.http('request', {
        requestId,
        method: req.method,
        route,
        status: res.statusCode,
        ms: Math.round(seconds * 1000),
        ...(res.locals.orderId ? { orderId: res.locals.orderId as string } : {}),
      });
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const down = await deps.readiness();
    res.status(down.length === 0 ? 200 : 503).json({ status: down.length === 0 ? 'ready' : 'not ready', down });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  });
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(openApiText());
  });

  if (deps.serveApi ?? true) mountApi(app, deps);
  app.use((req, _res) => {
    throw new AppError(404, 'not-found', 'Not found', `no route ${req.method} ${req.path}`);
  });
  app.use(problemHandler);
  return app;
}

/** The API routes, behind the body parser and admission control. */
function mountApi(app: Express, deps: HttpDeps): void {
  app.use(
    express.json({
      limit: deps.bodyLimit,
      type: ['application/json', 'application/*+json'],
      strict: true,
      verify: keepRawBody,
    }),
  );
  // Shed once the body is in, before any work: a slow upload must not hold a slot (the request timeouts deal with
  // slow clients), and a request turned away has cost nothing but its parse.
  // The admin API is never shed: an operator changing the policy in the middle of a flash sale must get through.
  app.use(admission({ ...deps.admission, exempt: (path) => path.startsWith('/admin/') }));
  app.use(
    productRoutes(deps.useCases),
    orderRoutes(deps.useCases),
    statsRoutes(deps.useCases),
    couponRoutes(deps.useCases),
    promotionRoutes(deps.useCases),
    pointsRoutes(deps.useCases),
    paymentRoutes(deps.useCases, deps.paymentWebhookSecret),
    adminRoutes(deps.useCases, deps.adminToken),
  );
}
