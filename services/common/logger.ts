// pino JSON logs. Secrets are redacted by path wherever they could appear.
import { pino, type Logger } from 'pino';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.iban',
  '*.pan',
  '*.cvv',
  '*.cardNumber',
  '*.privateKey',
  '*.secret',
  '*.voucherCode',
  '*.codeVerifier',
];

export function createLogger(service: string, level: string): Logger {
  return pino({
    level,
    base: { service },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
