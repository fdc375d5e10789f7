// What the services' logs never show: secrets are censored wherever they appear one level down
// in a logged object (REDACTED_PATHS), whatever the log line.
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { REDACTED_PATHS } from './logger.js';

describe('log redaction', () => {
  it('censors passwords, tokens, card data, IBANs, keys, webhook secrets, voucher codes and code verifiers', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = pino({ level: 'info', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink);
    const secrets = {
      password: 'correct horse battery',
      token: 'eyJhbGciOi.secret.token',
      refreshToken: 'rt_secret',
      iban: 'DE89370400440532013000',
      pan: '4242424242424242',
      cvv: '123',
      privateKey: 'd-of-a-key',
      secret: 'whsec_c2VjcmV0',
      voucherCode: 'VC-8842-1193',
      codeVerifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
    };
    log.info({ request: secrets, voucherId: 'vch_1' }, 'something happened');
    expect(lines).to.have.length(1);
    for (const value of Object.values(secrets)) expect(lines[0]).not.to.include(value);
    expect(lines[0]).to.include('vch_1');
  });
});
