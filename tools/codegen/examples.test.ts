// Every example in the bundled specs (generated/<api>/spec.json) validates against its own schema:
// a media type's or a parameter's `example` against its `schema`, and a schema's `examples` against
// that schema. The contract rules (checkExamples) make sure the examples are there; this makes sure
// they are right, so the Postman collection built from them (make postman) sends valid requests.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { formatAjvErrors, validateAt } from '../contract-testing/ajv-context.js';
import { escapePointerSegment, isObject } from '../contract-testing/spec-utils.js';

const generated = resolve(dirname(fileURLToPath(import.meta.url)), '../../generated');
const apis = readdirSync(generated, { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== 'events')
  .map((e) => e.name)
  .sort();

interface FoundExample {
  /** Where the example is, as a JSON pointer. */
  at: string;
  /** The schema it must satisfy, as a JSON pointer. */
  schema: string;
  value: unknown;
}

function examplesIn(node: unknown, pointer: string, found: FoundExample[]): FoundExample[] {
  if (Array.isArray(node)) {
    node.forEach((child, i) => examplesIn(child, `${pointer}/${i}`, found));
    return found;
  }
  if (!isObject(node)) return found;
  if (isObject(node.schema)) {
    // A media type or a parameter.
    if (node.example !== undefined) found.push({ at: `${pointer}/example`, schema: `${pointer}/schema`, value: node.example });
    if (isObject(node.examples)) {
      for (const [name, example] of Object.entries(node.examples)) {
        if (isObject(example) && 'value' in example) {
          found.push({ at: `${pointer}/examples/${escapePointerSegment(name)}`, schema: `${pointer}/schema`, value: example.value });
        }
      }
    }
  } else if (Array.isArray(node.examples) && !pointer.endsWith('/properties')) {
    // A schema (JSON Schema 2020-12 `examples`).
    node.examples.forEach((value, i) => found.push({ at: `${pointer}/examples/${i}`, schema: pointer, value }));
  }
  for (const [key, child] of Object.entries(node)) examplesIn(child, `${pointer}/${escapePointerSegment(key)}`, found);
  return found;
}

describe('spec examples', () => {
  for (const api of apis) {
    it(`${api}: every example validates against its own schema`, () => {
      const spec = JSON.parse(readFileSync(join(generated, api, 'spec.json'), 'utf8')) as object;
      const examples = examplesIn(spec, '', []);
      expect(examples.length, 'examples found').to.be.greaterThan(0);
      const failures = examples.flatMap(({ at, schema, value }) => formatAjvErrors(validateAt(spec, schema, value), `#${at}: `));
      expect(failures, failures.join('\n')).to.deep.equal([]);
    });
  }

  it('finds an example that breaks its schema (the check can fail)', () => {
    const spec = { components: { schemas: { Amount: { type: 'integer', minimum: 1, examples: [0] } } } };
    const [example] = examplesIn(spec, '', []);
    expect(example?.schema).to.equal('/components/schemas/Amount');
    expect(validateAt(spec, example!.schema, example!.value)).to.have.length(1);
  });
});
