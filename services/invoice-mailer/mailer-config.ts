// The invoice mailer's own settings (besides the common ones): where mail goes and who sends it.
import { num, str, url } from 'envalid';
import { loadConfig } from '../common/config.js';

export function mailerSpecs() {
  return {
    SMTP_URL: url({ default: undefined, desc: 'SMTP server to send invoices through (smtp://host:port, smtps://user:pass@host); unset: .eml files in MAIL_DIR' }),
    MAIL_FROM: str({ default: 'Payspec Billing <billing@payspec.local>', desc: "Invoices' From address; its domain is the right-hand side of their Message-IDs" }),
    MAIL_DIR: str({ default: '.data/mail', desc: 'Where invoices are written as .eml files when SMTP_URL is unset' }),
    SMTP_TIMEOUT_MS: num({ default: 10_000, desc: "Time-out of each SMTP step (connect, greeting, socket); keep it below EVENT_HANDLER_TIMEOUT_MS" }),
  };
}

export function loadMailerConfig(env: NodeJS.ProcessEnv) {
  return loadConfig(mailerSpecs(), env);
}
