// The operation router over real HTTP: security and the handler always belong to the operation
// express-openapi-validator matched, whatever order the spec declares its paths in; and the real
// gateway spec accepts date-time query values with an unencoded ':'.
import { expect } from 'chai';
import { pino } from 'pino';
import type { PaymentGatewayDelegate } from '../../../generated/payment-gateway/delegate.js';
import { createPaymentGatewayRouter, paymentGatewayOperations } from '../../../generated/payment-gateway/router.js';
import gatewaySpec from '../../../generated/payment-gateway/spec.json' with { type: 'json' };
import { type OperationDescriptor, createOperationRouter, matchedOperationId } from './operation-router.js';
import { HttpProblem } from './problem.js';
import { type Service, createService } from './service.js';

const log = pino({ level: 'silent' });

/** Paths that overlap: each templated one also matches the literal one next to it. */
const ROUTES: { id: string; method: 'get' | 'post'; path: string }[] = [
  { id: 'getItem', method: 'get', path: '/items/{id}' },
  { id: 'exportItems', method: 'get', path: '/items/export' },
  { id: 'postItem', method: 'post', path: '/items/{id}' },
  { id: 'getPart', method: 'get', path: '/items/{id}/{part}' },
  { id: 'getExportPart', method: 'get', path: '/items/export/{part}' },
  { id: 'getExportFormat', method: 'get', path: '/items/export/format' },
];

/** A spec declaring ROUTES in the given order; every operation is secured by a scheme of its own name. */
function overlappingSpec(order: typeof ROUTES) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of order) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    (paths[r.path] ??= {})[r.method] = {
      operationId: r.id,
      security: [{ [r.id]: [] }],
      parameters: params,
      responses: { '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } }, '401': { description: 'no' } },
    };
  }
  const schemes = Object.fromEntries(order.map((r) => [r.id, { type: 'apiKey', in: 'header', name: 'x-key' }]));
  const spec = { openapi: '3.1.0', info: { title: 'overlap', version: '1' }, servers: [{ url: '/' }], paths, components: { securitySchemes: schemes } };
  const operations: Record<string, OperationDescriptor> = Object.fromEntries(
    order.map((r) => [r.id, { method: r.method, path: r.path, security: [{ [r.id]: [] }], responses: { '200': 'application/json', '401': 'application/problem+json' } }]),
  );
  return { spec, operations };
}

async function serve(api: Parameters<typeof createService>[0]['api'], spec: object): Promise<Service> {
  const service = createService({ name: 'router-test', spec, api, log, port: 0 });
  await service.start();
  return service;
}

describe('operation router (HTTP)', () => {
  describe('security and handler follow the operation the validator matched', () => {
    // Requests and what the validator makes of them: the literal segment wins, then the method must exist on it.
    const EXPECTED: [method: string, path: string, answer: string][] = [
      ['GET', '/items/export', 'exportItems'],
      ['GET', '/items/42', 'getItem {"id":"42"}'],
      ['POST', '/items/42', 'postItem {"id":"42"}'],
      ['GET', '/items/export/format', 'getExportFormat'],
      ['GET', '/items/export/csv', 'getExportPart {"part":"csv"}'],
      ['GET', '/items/42/csv', 'getPart {"id":"42","part":"csv"}'],
      ['GET', '/items/42/format', 'getPart {"id":"42","part":"format"}'],
      ['POST', '/items/export', '405'], // /items/export has no POST, and /items/{id} does not get it either
      ['GET', '/items', '404'],
    ];

    for (const [label, order] of [
      ['templated paths declared first', ROUTES],
      ['literal paths declared first', [...ROUTES].reverse()],
    ] as const) {
      it(`${label}: each request runs exactly one security check and one handler, both of the same operation`, async () => {
        const { spec, operations } = overlappingSpec(order);
        const seen: string[] = [];
        const security = Object.fromEntries(
          order.map((r) => [
            r.id,
            async (req: Parameters<typeof matchedOperationId>[0]) => {
              seen.push(`security ${r.id} for ${matchedOperationId(req)}`);
              if (req.header('x-key') !== 'k') throw new HttpProblem(401, 'missing-key');
              return { subject: 's', roles: [] };
            },
          ]),
        );
        const router = createOperationRouter(spec, operations, { security, log });
        for (const r of order) {
          router.secured(r.id, async (req) => {
            seen.push(`handler ${r.id}`);
            return { status: 200, body: { operation: r.id, params: req.params } };
          });
        }
        const service = await serve(router.express, spec);
        try {
          for (const [method, path, answer] of EXPECTED) {
            seen.length = 0;
            const response = await fetch(`${service.url}${path}`, { method, headers: { 'x-key': 'k' } });
            const body = (await response.json()) as { operation?: string; params?: Record<string, string> };
            const got = response.status === 200 ? `${body.operation}${Object.keys(body.params!).length ? ` ${JSON.stringify(body.params)}` : ''}` : String(response.status);
            expect(got, `${method} ${path}`).to.equal(answer);
            const op = answer.split(' ')[0]!;
            expect(seen, `${method} ${path}`).to.deep.equal(/^\d+$/.test(op) ? [] : [`security ${op} for ${op}`, `handler ${op}`]);
          }
          // Without credentials, the matched operation's own scheme refuses, before any handler.
          seen.length = 0;
          const anonymous = await fetch(`${service.url}/items/export`);
          expect(anonymous.status).to.equal(401);
          expect(seen).to.deep.equal(['security exportItems for exportItems']);
        } finally {
          await service.stop();
        }
      });
    }

    it('refuses descriptors that disagree with the spec (generated code older than the spec)', () => {
      const { spec, operations } = overlappingSpec(ROUTES);
      const stale = { ...operations, getItem: { ...operations.getItem!, path: '/things/{id}' } };
      expect(() => createOperationRouter(spec, stale, { security: {}, log })).to.throw(/disagree on getItem: run `make generate`/);
    });
  });

  describe('the payment gateway spec through createService', () => {
    let service: Service;
    const received: unknown[] = [];
    before(async () => {
      // Only listTransactions answers; the point is what reaches it.
      const unused = async () => {
        throw new Error('not called in this test');
      };
      const listTransactions: PaymentGatewayDelegate['listTransactions'] = async ({ query }) => {
        received.push(query);
        return { status: 200, body: { data: [], hasMore: false } };
      };
      const delegate = { ...Object.fromEntries(Object.keys(paymentGatewayOperations).map((id) => [id, unused])), listTransactions } as PaymentGatewayDelegate;
      const router = createPaymentGatewayRouter(delegate, {
        security: { bearerAuth: async () => ({ subject: 'usr_1', roles: ['customer'] }) },
        validateResponses: true,
        log,
      });
      service = await serve(router, gatewaySpec);
    });
    after(() => service.stop());

    it('listTransactions takes ?from=2026-01-01T00:00:00Z with the ":" unencoded', async () => {
      const response = await fetch(`${service.url}/wallet/transactions?from=2026-01-01T00:00:00Z&to=2026-02-01T12:30:00.5Z`, {
        headers: { authorization: 'Bearer any' },
      });
      expect(response.status, await response.clone().text()).to.equal(200);
      expect(received.at(-1)).to.deep.equal({ from: '2026-01-01T00:00:00Z', to: '2026-02-01T12:30:00.5Z', limit: 20 });
    });

    it('still refuses a value that is not a date-time', async () => {
      const response = await fetch(`${service.url}/wallet/transactions?from=2026-01-01`, { headers: { authorization: 'Bearer any' } });
      expect(response.status).to.equal(400);
      expect(((await response.json()) as { errors: { pointer: string }[] }).errors.map((e) => e.pointer)).to.deep.equal(['/query/from']);
    });
  });
});
