// The pieces of a Postman v2.1 collection that build.ts and scenario.ts share.
export type JsonObject = Record<string, unknown>;

export interface Item {
  name: string;
  description?: string;
  item?: Item[];
  request?: JsonObject;
  event?: JsonObject[];
}

/** The variable holding each role's bearer token; the sign-in requests' test scripts set them. */
export const ROLE_TOKEN: Record<string, string> = { operator: 'operatorToken', merchant: 'merchantToken', customer: 'customerToken' };

/** `payment-gateway` → `paymentGatewayUrl`: the variable holding a service instance's base URL. */
export const baseUrlVariable = (instance: string) => `${instance.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())}Url`;

export const bearer = (variable: string): JsonObject => ({ type: 'bearer', bearer: [{ key: 'token', value: `{{${variable}}}`, type: 'string' }] });

export const apiKeyAuth = (variable: string): JsonObject => ({
  type: 'apikey',
  apikey: [
    { key: 'key', value: 'X-Api-Key', type: 'string' },
    { key: 'value', value: `{{${variable}}}`, type: 'string' },
    { key: 'in', value: 'header', type: 'string' },
  ],
});

export const testEvent = (lines: string[]): JsonObject => ({ listen: 'test', script: { type: 'text/javascript', exec: lines } });
export const preRequestEvent = (lines: string[]): JsonObject => ({ listen: 'prerequest', script: { type: 'text/javascript', exec: lines } });

/**
 * A self-contained JSON Schema (draft-07, which Postman's `jsonSchema` assertion speaks) for an
 * OpenAPI schema: the components it refers to copied under `definitions`, without annotations.
 */
export function jsonSchemaFor(spec: JsonObject, schema: JsonObject): JsonObject {
  const components = ((spec.components as JsonObject | undefined)?.schemas ?? {}) as Record<string, JsonObject>;
  const definitions: Record<string, unknown> = {};
  const copy = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(copy);
    if (typeof node !== 'object' || node === null) return node;
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(node as JsonObject)) {
      if (['examples', 'example', 'description', 'title'].includes(key) && typeof value !== 'object') continue;
      if (key === 'examples' || key === 'example') continue;
      if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')) {
        const name = value.slice('#/components/schemas/'.length);
        if (!(name in definitions)) {
          definitions[name] = {};
          definitions[name] = copy(components[name]);
        }
        out.$ref = `#/definitions/${name}`;
        continue;
      }
      out[key] = copy(value);
    }
    return out;
  };
  const root = copy(schema) as JsonObject;
  return Object.keys(definitions).length > 0 ? { ...root, definitions: Object.fromEntries(Object.entries(definitions).sort()) } : root;
}
