// make token [ROLE=operator] [SUBJECT=op-dev] [TTL=10m]: prints a bearer token the local platform accepts.
import type { Role } from '../../services/common/http/context.js';
import { devToken } from './dev-keys.js';

const role = (process.env.ROLE ?? 'operator') as Role;
if (!['customer', 'merchant', 'operator'].includes(role)) {
  console.error(`ROLE must be customer, merchant or operator, not ${role}`);
  process.exit(2);
}
console.log(await devToken(process.env.SUBJECT ?? `${role}-dev`, [role], process.env.TTL ?? '10m'));
