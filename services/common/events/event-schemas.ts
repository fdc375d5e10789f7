// Validates envelopes and payloads against the schemas generated from specs/events.yaml.
// Used at publish (a bug is caught before it leaves) and at consume (a bad message is parked).
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { eventCatalog } from '../../../generated/events/catalog.js';
import spec from '../../../generated/events/spec.json' with { type: 'json' };
import type { EventType } from '../../../generated/events/types.js';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => void;

const SPEC_ID = 'payspec-events';
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
ajv.addSchema({ ...spec, $id: SPEC_ID });

const envelope = ajv.compile({
  type: 'object',
  required: ['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'correlationid', 'data'],
  properties: {
    specversion: { const: '1.0' },
    id: { type: 'string', minLength: 1, maxLength: 200 },
    source: { type: 'string', minLength: 1 },
    type: { type: 'string', minLength: 1 },
    time: { type: 'string', format: 'date-time' },
    datacontenttype: { const: 'application/json' },
    correlationid: { type: 'string', minLength: 1, maxLength: 200 },
    causationid: { type: 'string', minLength: 1, maxLength: 200 },
  },
});

const payloads = new Map<string, ValidateFunction>(
  Object.entries(eventCatalog).map(([type, { schema }]) => [type, ajv.compile({ $ref: `${SPEC_ID}${schema}` })]),
);

export function isKnownEventType(type: string): type is EventType {
  return payloads.has(type);
}

const describe = (validate: ValidateFunction, prefix: string) =>
  (validate.errors ?? []).map((e) => `${prefix}${e.instancePath} ${e.message ?? 'is invalid'}`).join('; ');

/** What is wrong with a message, or undefined when it is a valid event of a known type. */
export function eventProblem(message: unknown): string | undefined {
  if (!envelope(message)) return `invalid envelope: ${describe(envelope, '')}`;
  const { type, data } = message as { type: string; data: unknown };
  const validate = payloads.get(type);
  if (!validate) return `unknown event type ${type}`;
  if (!validate(data)) return `invalid ${type} payload: ${describe(validate, 'data')}`;
  return undefined;
}
