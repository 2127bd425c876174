import { createHmac } from 'node:crypto';

/** Standard Webhooks: a symmetric key is shown as `whsec_` and its base64, and is 24 to 64 bytes long. */
const SECRET_PREFIX = 'whsec_';
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Why a `whsec_…` secret cannot be used, or undefined when it can. Never quotes the secret. */
export function webhookSecretProblem(secret: string): string | undefined {
  const text = secret.trim();
  if (text === '') return 'required when WEBHOOK_URLS is set (whsec_ followed by a base64 key of 24 to 64 bytes)';
  if (!text.startsWith(SECRET_PREFIX)) return 'must start with whsec_ (whsec_ followed by a base64 key)';
  const encoded = text.slice(SECRET_PREFIX.length);
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) return 'the part after whsec_ is not base64';
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < MIN_KEY_BYTES || bytes > MAX_KEY_BYTES)
    return `the key after whsec_ is ${bytes} bytes; it must be ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES}`;
  return undefined;
}

/** The HMAC key of a valid `whsec_…` secret (validated at start-up by the configuration). */
export function webhookKey(secret: string): Buffer {
  const problem = webhookSecretProblem(secret);
  if (problem) throw new Error(`WEBHOOK_SECRET: ${problem}`);
  return Buffer.from(secret.trim().slice(SECRET_PREFIX.length), 'base64');
}

/** The three Standard Webhooks headers of one attempt. */
export interface SignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Signs one attempt: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the key. The timestamp is the
 * attempt's (unix seconds), so every retry is signed afresh; the id stays the event's, for the receiver to dedupe.
 */
export function signWebhook(key: Buffer, id: string, timestampSeconds: number, body: string): SignatureHeaders {
  const signature = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${signature}`,
  };
}
