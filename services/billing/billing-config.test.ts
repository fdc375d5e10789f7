// Billing's settings (billing-config.ts): the schedule is a cron expression or `off`, checked at start.
import { expect } from 'chai';
import { ConfigError } from '../common/config.js';
import { loadBillingConfig } from './billing-config.js';

describe('Billing configuration (unit)', () => {
  it('defaults to 02:00 UTC on the 1st, takes another cron expression or off, and refuses anything else by name', () => {
    expect(loadBillingConfig({}).BILLING_SCHEDULE).to.equal('0 2 1 * *');
    expect(loadBillingConfig({ BILLING_SCHEDULE: '30 6 2 * *' }).BILLING_SCHEDULE).to.equal('30 6 2 * *');
    expect(loadBillingConfig({ BILLING_SCHEDULE: 'off' }).BILLING_SCHEDULE).to.equal('off');
    expect(() => loadBillingConfig({ BILLING_SCHEDULE: 'every month' })).to.throw(ConfigError, /BILLING_SCHEDULE/);
    expect(() => loadBillingConfig({ BILLING_SCHEDULE: '0 25 1 * *' })).to.throw(ConfigError, /BILLING_SCHEDULE/);
  });
});
