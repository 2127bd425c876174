import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Method, OpenApiDocument } from '../../src/http/openapi';

/** Where ajv keeps the document, so that `#/components/schemas/…` resolves inside it. */
const DOC_ID = 'urn:order-timeout:openapi';

/** A JSON pointer from path segments (`/` and `~` escaped). */
const pointer = (segments: string[]) => segments.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** What the checker needs of a response. */
export interface CheckedResponse {
  /** HTTP status. */
  status: number;
  /** Response headers. */
  headers: Headers;
  /** The parsed JSON body, or the text when it is not JSON. */
  body: unknown;
}

/**
 * Holds requests and responses to an OpenAPI document with a real JSON Schema 2020-12 validator: a status the
 * document does not list for the route, another media type, a body or header that does not match, all throw.
 */
export class OpenApiChecker {
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();
  /** `get /orders/{id} 200`: each route and status a response was checked for. */
  readonly seen = new Set<string>();

  constructor(readonly doc: OpenApiDocument) {
    // strict: a schema keyword ajv does not know (a typo, a zod extension) is an error, not silently ignored.
    this.ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(this.ajv);
    // The document's top-level members are not JSON Schema keywords; declared as such, $refs may point into them.
    for (const member of Object.keys(doc)) this.ajv.addKeyword(member);
    this.ajv.addSchema({ ...doc, $id: DOC_ID });
  }

  /** The validator of the schema at this place in the document, compiled once. */
  validatorAt(segments: string[]): ValidateFunction {
    const ref = `${DOC_ID}#/${pointer(segments)}`;
    let validate = this.validators.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref });
      this.validators.set(ref, validate);
    }
    return validate;
  }

  private operation(method: Method, template: string) {
    const operation = this.doc.paths[template]?.[method];
    if (!operation) throw new Error(`${method.toUpperCase()} ${template} is not in the document`);
    return operation;
  }

  /** Throws unless the document lists this status for the route and the body and headers match it. */
  checkResponse(method: Method, template: string, res: CheckedResponse): void {
    const what = `${method.toUpperCase()} ${template} → ${res.status}`;
    const responses = this.operation(method, template).responses;
    const response = responses[String(res.status)];
    if (!response)
      throw new Error(
        `${what}: the document lists only ${Object.keys(responses).join(', ')} for this route; ` +
          `body ${JSON.stringify(res.body)?.slice(0, 300)}`,
      );
    const base = ['paths', template, method, 'responses', String(res.status)];

    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const documented = Object.keys(response.content ?? {});
    if (!documented.includes(mediaType))
      throw new Error(`${what}: answered ${mediaType || 'no body'}, the document says ${documented.join(', ')}`);
    const validate = this.validatorAt([...base, 'content', mediaType, 'schema']);
    if (!validate(res.body))
      throw new Error(
        `${what}: the body does not match the document: ${this.ajv.errorsText(validate.errors)}; ` +
          `body ${JSON.stringify(res.body)?.slice(0, 500)}`,
      );

    for (const [name, header] of Object.entries(response.headers ?? {})) {
      const value = res.headers.get(name);
      if (value === null) {
        if (header.required) throw new Error(`${what}: header ${name} is missing`);
        continue;
      }
      const validateHeader = this.validatorAt([...base, 'headers', name, 'schema']);
      if (!validateHeader(value))
        throw new Error(
          `${what}: header ${name} ${JSON.stringify(value)}: ${this.ajv.errorsText(validateHeader.errors)}`,
        );
    }
    this.seen.add(`${method} ${template} ${res.status}`);
  }

  /** Throws unless the route's documented request body schema accepts this body. */
  checkRequestBody(method: Method, template: string, body: unknown): void {
    const content = this.operation(method, template).requestBody?.content ?? {};
    if (!('application/json' in content)) throw new Error(`${method.toUpperCase()} ${template} documents no JSON body`);
    const validate = this.validatorAt([
      'paths',
      template,
      method,
      'requestBody',
      'content',
      'application/json',
      'schema',
    ]);
    if (!validate(body))
      throw new Error(
        `${method.toUpperCase()} ${template}: the request body does not match the document: ` +
          `${this.ajv.errorsText(validate.errors)}; body ${JSON.stringify(body)?.slice(0, 300)}`,
      );
  }
}
