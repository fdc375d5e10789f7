// The scenario folder of the Postman collection: the platform end to end, in order, as the README's
// curl flows do it. Every account is new on each run (e-mails and phone numbers carry a run tag), so
// it runs again on the same databases — except the billing part, whose run is once per month.
// Waiting for asynchronous outcomes (a pending card, an authorization, a billing run, a mail, a slow
// voucher) is a bounded retry: the test script sleeps briefly and runs the same request again with
// `postman.setNextRequest`, up to POLL_LIMIT times, then lets the assertion fail.
import { type Item, type JsonObject, ROLE_TOKEN, baseUrlVariable, bearer, preRequestEvent, testEvent } from './postman-items.js';

const POLL_LIMIT = 40;
const POLL_DELAY_MS = 500;

interface Step {
  name: string;
  service: string;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  auth?: JsonObject;
  body?: unknown;
  /** Test script lines; `json` holds the parsed body when there is one. */
  tests: string[];
  pre?: string[];
  /** Keep asking until this expression (over `json` and `pm.response`) is true. */
  until?: string;
}

const gw = 'payment-gateway';
const customer = bearer(ROLE_TOKEN.customer!);
const merchant = bearer(ROLE_TOKEN.merchant!);
const operator = bearer(ROLE_TOKEN.operator!);
const status = (code: number) => `pm.test('answers ${code}', () => pm.response.to.have.status(${code}));`;

const TEST_CARDS: [string, string, string][] = [
  ['4242424242424242', 'succeeded', ''],
  ['4000000000000002', 'failed', 'insufficient-funds'],
  ['4000000000000069', 'failed', 'expired-card'],
  ['4000000000000127', 'failed', 'do-not-honour'],
  ['4100000000000019', 'failed', 'stolen-card'],
  ['4000000000009995', 'pending', ''],
];

function steps(): Step[] {
  const signUp = (who: string, role: string, extra: JsonObject = {}): Step => ({
    name: `Sign up ${who}`,
    service: gw,
    method: 'POST',
    path: '/auth/sign-up',
    auth: { type: 'noauth' },
    body: { email: `{{${who}Email}}`, password: 'correct horse battery', firstName: who[0]!.toUpperCase() + who.slice(1), lastName: 'Example', phone: `{{${who}Phone}}`, role, ...extra },
    tests: [status(201), `pm.collectionVariables.set('${who}Id', json.id);`],
  });
  const signIn = (who: string, tokenVariable: string, email = `{{${who}Email}}`, password = 'correct horse battery'): Step => ({
    name: `Sign in ${who}`,
    service: gw,
    method: 'POST',
    path: '/auth/sign-in',
    auth: { type: 'noauth' },
    body: { email, password },
    tests: [status(200), `pm.collectionVariables.set('${tokenVariable}', json.accessToken);`],
  });
  return [
    {
      ...signUp('shop', 'merchant', { business: { name: 'Sam Tickets Ltd', acquiringBank: 'piggy-bank' } }),
      pre: [
        '// A tag of this run makes every account new: e-mails and phone numbers sign up once.',
        "const tag = String(Date.now()).slice(-7) + String(Math.floor(Math.random() * 10));",
        "pm.collectionVariables.set('runTag', tag);",
        "for (const who of ['shop', 'ada', 'grace']) pm.collectionVariables.set(who + 'Email', who + '-' + tag + '@example.com');",
        '// The last digit picks the voucher provider\'s path: 0–3 answers at once, 4–5 calls back later.',
        "pm.collectionVariables.set('shopPhone', '+4477' + tag + '9');",
        "pm.collectionVariables.set('adaPhone', '+4478' + tag + '1');",
        "pm.collectionVariables.set('gracePhone', '+4479' + tag + '4');",
      ],
    },
    signIn('shop', ROLE_TOKEN.merchant!),
    ...TEST_CARDS.map(([number, expected, reason], i): Step => ({
      name: `Pay with test card ${number} (${expected}${reason ? `: ${reason}` : ''})`,
      service: gw,
      method: 'POST',
      path: '/payments',
      auth: merchant,
      // Card 4000000000009995 settles by amount: even succeeds.
      body: { card: { number, expiryMonth: 12, expiryYear: 2030, cvv: '123', holderName: 'Ada Lovelace' }, amount: 2500, currency: 'EUR', reference: `order-{{runTag}}-${i}`, description: 'Two tickets' },
      tests: [
        status(201),
        `pm.test('is ${expected}', () => pm.expect(json.status).to.equal('${expected}'));`,
        ...(reason ? [`pm.test('fails as ${reason}', () => pm.expect(json.failureReason).to.equal('${reason}'));`] : []),
        ...(i === 0 ? ["pm.collectionVariables.set('paymentId', json.id);"] : []),
        ...(expected === 'pending' ? ["pm.collectionVariables.set('pendingPaymentId', json.id);"] : []),
      ],
    })),
    {
      name: 'The pending card payment settles (succeeded: the amount is even)',
      service: gw,
      method: 'GET',
      path: '/payments/{{pendingPaymentId}}',
      auth: merchant,
      until: "json.status !== 'pending'",
      tests: [status(200), "pm.test('settled as succeeded', () => pm.expect(json.status).to.equal('succeeded'));"],
    },
    {
      name: 'Read the payment',
      service: gw,
      method: 'GET',
      path: '/payments/{{paymentId}}',
      auth: merchant,
      tests: [status(200), "pm.test('card shown by its last four digits only', () => { pm.expect(json.card.last4).to.equal('4242'); pm.expect(JSON.stringify(json)).not.to.include('4242424242424242'); });"],
    },
    {
      name: 'Refund part of the payment',
      service: gw,
      method: 'POST',
      path: '/payments/{{paymentId}}/refunds',
      auth: merchant,
      body: { amount: 1000, reason: 'customer returned one ticket' },
      tests: [status(201), "pm.test('refund succeeded', () => pm.expect(json.status).to.equal('succeeded'));"],
    },
    {
      name: 'Read the payment history',
      service: gw,
      method: 'GET',
      path: '/payments?limit=20',
      auth: merchant,
      tests: [
        status(200),
        `pm.test('lists the ${TEST_CARDS.length} payments of the run', () => pm.expect(json.data.length).to.equal(${TEST_CARDS.length}));`,
        "pm.test('the refunded amount shows', () => pm.expect(json.data.find((p) => p.id === pm.collectionVariables.get('paymentId')).refundedAmount).to.equal(1000));",
      ],
    },
    signUp('ada', 'customer'),
    signUp('grace', 'customer'),
    signIn('ada', ROLE_TOKEN.customer!),
    {
      name: 'Ada tops up her wallet',
      service: gw,
      method: 'POST',
      path: '/wallet/top-ups',
      auth: customer,
      body: { amount: 5000, currency: 'EUR' },
      tests: [status(201), "pm.test('balance 50.00 EUR', () => pm.expect(json.balanceAfter).to.equal(5000));"],
    },
    {
      name: 'Ada pays Grace by e-mail',
      service: gw,
      method: 'POST',
      path: '/wallet/transfers',
      auth: customer,
      body: { toEmail: '{{graceEmail}}', amount: 1250, currency: 'EUR', note: 'lunch' },
      tests: [status(201), "pm.test('balance 37.50 EUR', () => pm.expect(json.balanceAfter).to.equal(3750));"],
    },
    {
      name: "List Ada's transactions",
      service: gw,
      method: 'GET',
      path: '/wallet/transactions',
      auth: customer,
      tests: [status(200), "pm.test('a top-up and a transfer', () => pm.expect(json.data.map((t) => t.type).sort()).to.deep.equal(['top-up', 'transfer-out']));"],
    },
    signIn('the operator', ROLE_TOKEN.operator!, '{{operatorEmail}}', '{{operatorPassword}}'),
    {
      name: "The operator creates a contract for Ada's company",
      service: 'contract',
      method: 'POST',
      path: '/contracts',
      auth: operator,
      body: {
        customer: { id: 'cust-{{runTag}}', name: 'ACME Works Council', billingEmail: 'accounts-{{runTag}}@acme.example', userId: '{{adaId}}' },
        validFrom: '2020-01-01',
        validTo: '2099-12-31',
        currency: 'EUR',
        creditLimit: 500000,
        mandate: { reference: 'ACME-{{runTag}}', iban: 'FR76 3000 6000 0112 3456 7890 189', signedOn: '2020-01-01' },
      },
      tests: [status(201), "pm.collectionVariables.set('contractId', json.id);"],
    },
    {
      name: 'A purchase is accepted (once billing has the contract)',
      service: 'billing',
      method: 'POST',
      path: '/operations',
      auth: operator,
      body: { contractId: '{{contractId}}', type: 'purchase', currency: 'EUR', orders: [{ reference: 'trip-42', items: [{ label: 'Paris–Lyon return', unitPrice: 8900, quantity: 2 }] }] },
      // Billing learns of the contract from its event: until then the contract is unknown (404).
      until: 'pm.response.code !== 404',
      tests: [status(201), "pm.collectionVariables.set('operationId', json.id);"],
    },
    {
      name: 'The purchase is authorized by direct debit',
      service: 'billing',
      method: 'GET',
      path: '/operations/{{operationId}}',
      auth: operator,
      until: "json.status !== 'pending-authorization'",
      tests: [status(200), "pm.test('authorized', () => pm.expect(json.status).to.equal('authorized'));", "pm.collectionVariables.set('period', json.period);"],
    },
    {
      name: 'A billing run issues the invoice',
      service: 'billing',
      method: 'POST',
      path: '/billing-runs',
      auth: operator,
      body: { period: '{{period}}' },
      tests: ["pm.test('answers 202 (started) or 200 (already started)', () => pm.expect(pm.response.code).to.be.oneOf([200, 202]));", "pm.collectionVariables.set('runId', json.id);"],
    },
    {
      name: 'The billing run completes',
      service: 'billing',
      method: 'GET',
      path: '/billing-runs/{{runId}}',
      auth: operator,
      until: "json.status === 'completed'",
      tests: [status(200), "pm.test('completed', () => pm.expect(json.status).to.equal('completed'));"],
    },
    {
      name: "The contract's invoice",
      service: 'billing',
      method: 'GET',
      path: '/invoices?contractId={{contractId}}',
      auth: operator,
      tests: [status(200), "pm.test('one invoice of 178.00 EUR', () => { pm.expect(json.data).to.have.length(1); pm.expect(json.data[0].net).to.equal(17800); });", "pm.collectionVariables.set('invoiceId', json.data[0].id);"],
    },
    {
      name: 'The invoice is mailed (the operator reads it on the mailer)',
      service: 'invoice-mailer',
      method: 'GET',
      path: '/sent-invoices/{{invoiceId}}',
      auth: operator,
      until: 'pm.response.code === 200',
      tests: [status(200), "pm.test('sent to the billing address', () => pm.expect(json.to).to.equal('accounts-' + pm.collectionVariables.get('runTag') + '@acme.example'));"],
    },
    {
      name: 'Ada requests a voucher (fast path: her number ends in 1)',
      service: 'voucher',
      method: 'POST',
      path: '/vouchers',
      auth: customer,
      body: { phoneNumber: '{{adaPhone}}' },
      tests: [status(202), "pm.collectionVariables.set('fastVoucherId', json.id);"],
    },
    {
      name: 'Ada reads her voucher back, issued',
      service: 'voucher',
      method: 'GET',
      path: '/vouchers/{{fastVoucherId}}',
      auth: customer,
      until: "json.status !== 'PENDING'",
      tests: [status(200), "pm.test('issued with its code', () => { pm.expect(json.status).to.equal('ISSUED'); pm.expect(json.voucherCode).to.be.a('string'); });"],
    },
    signIn('grace', ROLE_TOKEN.customer!),
    {
      name: 'Grace requests a voucher (slow path: her number ends in 4)',
      service: 'voucher',
      method: 'POST',
      path: '/vouchers',
      auth: customer,
      body: { phoneNumber: '{{gracePhone}}' },
      tests: [status(202), "pm.collectionVariables.set('slowVoucherId', json.id);"],
    },
    {
      name: 'Grace reads her voucher back, issued by the provider’s callback',
      service: 'voucher',
      method: 'GET',
      path: '/vouchers/{{slowVoucherId}}',
      auth: customer,
      until: "json.status !== 'PENDING'",
      tests: [status(200), "pm.test('issued by callback', () => { pm.expect(json.status).to.equal('ISSUED'); pm.expect(json.voucherCode).to.be.a('string'); });"],
    },
  ];
}

function toItem(step: Step, index: number): Item {
  const variable = baseUrlVariable(step.service);
  const [pathPart, query] = step.path.split('?');
  const name = `${String(index + 1).padStart(2, '0')} ${step.name}`;
  const tests = [
    'const json = (() => { try { return pm.response.json(); } catch { return undefined; } })();',
    ...(step.until
      ? [
          `// Asynchronous: ask again (bounded) until the outcome is there.`,
          `const polls = Number(pm.collectionVariables.get('polls') || 0);`,
          `if (!(${step.until}) && polls < ${POLL_LIMIT}) {`,
          `  pm.collectionVariables.set('polls', polls + 1);`,
          `  postman.setNextRequest(pm.info.requestName);`,
          `  setTimeout(() => {}, ${POLL_DELAY_MS});`,
          `  return;`,
          `}`,
          `pm.collectionVariables.set('polls', 0);`,
        ]
      : []),
    ...step.tests,
  ];
  const isWrite = step.method !== 'GET' && !step.path.startsWith('/auth/');
  return {
    name,
    request: {
      method: step.method,
      header: [
        ...(step.body !== undefined ? [{ key: 'Content-Type', value: 'application/json' }] : []),
        ...(isWrite ? [{ key: 'Idempotency-Key', value: '{{$guid}}' }] : []),
      ],
      url: {
        raw: `{{${variable}}}${step.path}`,
        host: [`{{${variable}}}`],
        path: pathPart!.split('/').filter(Boolean),
        ...(query ? { query: query.split('&').map((kv) => ({ key: kv.split('=')[0], value: kv.split('=')[1] })) } : {}),
      },
      auth: step.auth ?? { type: 'noauth' },
      ...(step.body !== undefined ? { body: { mode: 'raw', raw: JSON.stringify(step.body, null, 2), options: { raw: { language: 'json' } } } } : {}),
    },
    event: [...(step.pre ? [preRequestEvent(step.pre)] : []), testEvent(tests)],
  };
}

export function scenarioFolder(): Item {
  return {
    name: 'Scenario: the platform end to end',
    description:
      'Run in order (the collection runner or newman). A merchant pays with each test card, reads and refunds; two wallet users top up and transfer; an operator gives a contract, a purchase is authorized, billed and mailed; two customers get vouchers (fast and slow).',
    item: steps().map(toItem),
  };
}

