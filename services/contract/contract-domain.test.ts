import { expect } from 'chai';
import { isKnownCurrency } from '../common/money.js';
import { ibanProblem, maskIban, transition } from './contract-domain.js';

describe('contract domain (unit)', () => {
  it('accepts valid SEPA IBANs, with or without spaces and in any case', () => {
    for (const iban of ['FR76 3000 6000 0112 3456 7890 189', 'DE89370400440532013000', 'gb82 west 1234 5698 7654 32', 'NL91ABNA0417164300']) {
      expect(ibanProblem(iban), iban).to.equal(undefined);
    }
  });

  it('names what is wrong with an IBAN', () => {
    expect(ibanProblem('FR77 3000 6000 0112 3456 7890 189')).to.equal('the check digits do not match');
    expect(ibanProblem('DE8937040044053201300')).to.match(/22 characters/);
    expect(ibanProblem('US12 3456 7890 1234 5678')).to.match(/not in the SEPA scheme/);
    expect(ibanProblem('DE89 3704 0044 0532 0130 0!')).to.match(/characters an IBAN cannot have/);
  });

  it('masks all but the country, check digits and last four characters', () => {
    expect(maskIban('FR76 3000 6000 0112 3456 7890 189')).to.equal('FR76 **** **** **** **** ***0 189');
    expect(maskIban('NL91ABNA0417164300')).to.equal('NL91 **** **** **43 00');
  });

  it('allows only the lifecycle transitions of the contract', () => {
    expect(transition('suspend', 'active')).to.deep.equal({ to: 'suspended', change: 'suspended' });
    expect(transition('suspend', 'suspended')).to.equal(undefined);
    expect(transition('reactivate', 'suspended')).to.deep.equal({ to: 'active', change: 'reactivated' });
    expect(transition('reactivate', 'active')).to.equal(undefined);
    expect(transition('cancel', 'active')?.to).to.equal('cancelled');
    expect(transition('cancel', 'suspended')?.to).to.equal('cancelled');
    expect(transition('cancel', 'cancelled')).to.equal(undefined);
    expect(transition('reactivate', 'cancelled')).to.equal(undefined);
  });

  it('knows ISO 4217 currencies', () => {
    expect(isKnownCurrency('EUR')).to.equal(true);
    expect(isKnownCurrency('XYZ')).to.equal(false);
  });
});
