import type { MessageProperties } from 'amqplib';
import { headerText } from '../messaging/header-text';

/** AMQP binary mode (CloudEvents AMQP binding): each attribute is an application property with this prefix. */
const ATTRIBUTE_PREFIX = 'cloudEvents_';
/** Attributes without which an event is not a CloudEvent; `id` also signs each webhook. */
const REQUIRED = ['specversion', 'id', 'source', 'type'] as const;

/** An event as webhooks send it: its id, and its structured-mode JSON (`application/cloudevents+json`). */
export type StructuredEvent =
  { ok: true; id: string; type: string; subject?: string; body: string } | { ok: false; reason: string };

/**
 * Turns a binary-mode event from `order.events` into the structured JSON a webhook carries: the attributes
 * (`specversion`, `id`, `source`, `type`, `subject`, `time` and any extension such as `sequence`) at the top,
 * `datacontenttype` from the message's content type and `data` the body. An event that is not readable (a
 * missing attribute, a body that is not JSON) gets a reason instead: it is parked, not sent.
 */
export function structuredEvent(properties: MessageProperties, content: Buffer): StructuredEvent {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(properties.headers ?? {})) {
    const attribute = name.startsWith(ATTRIBUTE_PREFIX) ? name.slice(ATTRIBUTE_PREFIX.length) : undefined;
    const shown = headerText(value);
    if (attribute && shown !== null) attributes[attribute] = shown;
  }
  const missing = REQUIRED.filter((a) => !attributes[a]);
  if (missing.length > 0)
    return { ok: false, reason: `invalid event: no ${missing.map((a) => ATTRIBUTE_PREFIX + a).join(', ')}` };
  const { specversion, id, type, source, subject, time, ...extensions } = attributes as Record<string, string> & {
    id: string;
    type: string;
  };
  // Standard Webhooks signs "id.timestamp.body": an id with a dot would make that ambiguous.
  if (id.includes('.')) return { ok: false, reason: `invalid event: id ${id} contains a dot` };
  let data: unknown;
  try {
    data = JSON.parse(content.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    return { ok: false, reason: 'invalid event: body is not JSON' };
  }
  const datacontenttype = headerText(properties.contentType) ?? 'application/json';
  const event = { specversion, id, source, type, subject, time, ...extensions, datacontenttype, data };
  return { ok: true, id, type, subject, body: JSON.stringify(event) };
}
