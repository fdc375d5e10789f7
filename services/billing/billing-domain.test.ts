// Billing's pure rules (billing-domain.ts), without HTTP or storage.
import { expect } from 'chai';
import { amountOf, contractRefusal, invoiceFigures, periodOf, previousPeriod, withinLimit } from './billing-domain.js';
import { snapshot } from './test-support/fixtures.js';

describe('Billing rules (unit)', () => {
  const now = new Date('2026-11-15T12:00:00Z');
  const contract = snapshot({ validFrom: '2026-01-01', validTo: '2026-12-31', currency: 'EUR', mandate: { reference: 'M', ibanMasked: 'FR76 ****', signedOn: '2025-12-01' } });

  it('accepts an active contract within its dates with a valid mandate, and names why otherwise', () => {
    expect(contractRefusal(contract, 'EUR', now)).to.equal(undefined);
    expect(contractRefusal({ ...contract, validTo: '2026-11-15' }, 'EUR', now), 'last day included').to.equal(undefined);
    expect(contractRefusal({ ...contract, status: 'suspended' }, 'EUR', now)?.code).to.equal('contract-not-active');
    expect(contractRefusal({ ...contract, validFrom: '2026-11-16' }, 'EUR', now)?.code).to.equal('contract-not-active');
    expect(contractRefusal({ ...contract, validTo: '2026-11-14' }, 'EUR', now)?.code).to.equal('contract-expired');
    expect(contractRefusal({ ...contract, mandate: { ...contract.mandate, signedOn: '2026-11-16' } }, 'EUR', now)?.code).to.equal('mandate-invalid');
    expect(contractRefusal({ ...contract, mandate: { ...contract.mandate, expiresOn: '2026-11-14' } }, 'EUR', now)?.code).to.equal('mandate-invalid');
    expect(contractRefusal({ ...contract, mandate: { ...contract.mandate, expiresOn: '2026-11-15' } }, 'EUR', now), 'expires today: still valid').to.equal(undefined);
    expect(contractRefusal(contract, 'USD', now)?.code).to.equal('currency-mismatch');
  });

  it('adds up items, checks the limit inclusively, and names periods', () => {
    expect(amountOf([{ items: [{ label: 'a', unitPrice: 250, quantity: 3 }, { label: 'b', unitPrice: 5, quantity: 1 }] }, { items: [{ label: 'c', unitPrice: 1, quantity: 10 }] }])).to.equal(765);
    expect(withinLimit(900, 100, 1_000)).to.equal(true);
    expect(withinLimit(900, 101, 1_000)).to.equal(false);
    expect(periodOf(now)).to.equal('2026-11');
    expect(previousPeriod('2026-01')).to.equal('2025-12');
    expect(previousPeriod('2026-11')).to.equal('2026-10');
  });

  it('makes invoice figures: a line per item of authorized operations, refunds credited, declined purchases counted apart', () => {
    const figures = invoiceFigures([
      { id: 'op_a', type: 'purchase', status: 'authorized', amount: 500, orders: [{ items: [{ label: 'x', unitPrice: 200, quantity: 2 }, { label: 'y', unitPrice: 100, quantity: 1 }] }] },
      { id: 'op_b', type: 'refund', status: 'authorized', amount: 100, orders: [{ items: [{ label: 'y back', unitPrice: 100, quantity: 1 }] }] },
      { id: 'op_c', type: 'purchase', status: 'declined', amount: 300, orders: [{ items: [{ label: 'z', unitPrice: 300, quantity: 1 }] }] },
      { id: 'op_d', type: 'purchase', status: 'pending-authorization', amount: 50, orders: [{ items: [{ label: 'w', unitPrice: 50, quantity: 1 }] }] },
    ]);
    expect(figures).to.deep.include({ purchases: 500, refunds: 100, net: 400, declined: { count: 1, amount: 300 }, operationIds: ['op_a', 'op_b'] });
    expect(figures!.lines.map((l) => [l.operationId, l.kind, l.amount])).to.deep.equal([
      ['op_a', 'purchase', 400],
      ['op_a', 'purchase', 100],
      ['op_b', 'refund', 100],
    ]);
    expect(invoiceFigures([{ id: 'op_c', type: 'purchase', status: 'declined', amount: 300, orders: [] }]), 'nothing to invoice').to.equal(undefined);
  });
});
