// The envelope of every Payspec event: CloudEvents 1.0 (structured JSON) with the
// `correlationid` and `causationid` extensions; `data` is the payload from specs/events.yaml.
import { randomUUID } from 'node:crypto';
import type { EventPayloads, EventType } from '../../../generated/events/types.js';

export interface CloudEvent<T extends EventType = EventType> {
  specversion: '1.0';
  /** Unique per source; consumers deduplicate on it. */
  id: string;
  /** `payspec/<service>` */
  source: string;
  type: T;
  time: string;
  datacontenttype: 'application/json';
  /** The business flow this event belongs to, carried from the first HTTP request. */
  correlationid: string;
  /** What caused it: the request id or the id of the event being handled. */
  causationid?: string;
  data: EventPayloads[T];
}

export interface EventMeta {
  /** Give a stable id when the same event may be published again (outbox relay). */
  id?: string;
  correlationId: string;
  causationId?: string;
  time?: string;
}

export function cloudEvent<T extends EventType>(service: string, type: T, data: EventPayloads[T], meta: EventMeta): CloudEvent<T> {
  return {
    specversion: '1.0',
    id: meta.id ?? randomUUID(),
    source: `payspec/${service}`,
    type,
    time: meta.time ?? new Date().toISOString(),
    datacontenttype: 'application/json',
    correlationid: meta.correlationId,
    ...(meta.causationId !== undefined ? { causationid: meta.causationId } : {}),
    data,
  };
}
