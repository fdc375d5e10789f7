// The invoice mailer's pure rules: Message-IDs, amounts, subjects, and the next step after each
// kind of attempt entry (the rule for an attempt a crash interrupted).
import { expect } from 'chai';
import { type AttemptEntry, domainOf, formatAmount, messageIdFor, nextStep, subjectOf } from './invoice-mailer-domain.js';
import { issuedInvoice } from './test-support/invoices.js';

const now = new Date('2026-12-01T10:00:00.000Z');
const entry = (e: Partial<AttemptEntry>): AttemptEntry => ({ kind: 'sending', attempt: 1, transport: 'smtp', at: '2026-12-01T09:59:00.000Z', possibleDuplicate: false, ...e });

describe('Invoice mailer rules', () => {
  it('derives the Message-ID from the invoice id and the From domain', () => {
    expect(domainOf('Payspec Billing <billing@Payspec.Example>')).to.equal('payspec.example');
    expect(domainOf('billing@payspec.local')).to.equal('payspec.local');
    expect(() => domainOf('Payspec Billing')).to.throw(/not an e-mail address/);
    expect(messageIdFor('inv_01hzx3k8m9q4w7e2r5t6y8u0ab', 'payspec.local')).to.equal('<inv_01hzx3k8m9q4w7e2r5t6y8u0ab@payspec.local>');
  });

  it("writes amounts with the currency's own minor units", () => {
    expect(formatAmount(123_456, 'EUR')).to.equal('€1,234.56');
    expect(formatAmount(1_500, 'JPY')).to.equal('JP¥1,500');
    expect(formatAmount(-250, 'GBP')).to.equal('-£2.50');
  });

  it('keeps line breaks from the event out of the subject', () => {
    expect(subjectOf(issuedInvoice({ customer: { id: 'c', name: 'Evil\r\nBcc: x@example.com', billingEmail: 'a@example.com' } }))).to.equal('Invoice 2026-11 for Evil Bcc: x@example.com');
  });

  it('sends first, after a failure, and again after an interrupted SMTP attempt (then as a possible duplicate)', () => {
    expect(nextStep(undefined, now)).to.deep.equal({ step: 'send', attempt: 1, possibleDuplicate: false });
    expect(nextStep(entry({ kind: 'failed', uncertain: false }), now)).to.deep.equal({ step: 'send', attempt: 2, possibleDuplicate: false });
    expect(nextStep(entry({ kind: 'failed', uncertain: true }), now)).to.deep.equal({ step: 'send', attempt: 2, possibleDuplicate: true });
    expect(nextStep(entry({ kind: 'failed', attempt: 3, uncertain: false, possibleDuplicate: true }), now)).to.deep.equal({ step: 'send', attempt: 4, possibleDuplicate: true });
    expect(nextStep(entry({ leaseUntil: '2026-12-01T09:59:30.000Z' }), now)).to.deep.equal({ step: 'send', attempt: 2, possibleDuplicate: true });
  });

  it('leaves a live attempt alone, and checks the file of an interrupted file attempt', () => {
    expect(nextStep(entry({ leaseUntil: '2026-12-01T10:00:30.000Z' }), now)).to.deep.equal({ step: 'busy', until: '2026-12-01T10:00:30.000Z' });
    expect(nextStep(entry({ transport: 'file', attempt: 2, leaseUntil: '2026-12-01T09:59:30.000Z' }), now)).to.deep.equal({ step: 'check-file', interrupted: 2, attempt: 3, possibleDuplicate: false });
  });
});
