// Signing in and signing up (the gateway's identity API). Anyone may open these.
import { call, gateway } from '../api';
import { type Route, current, navigate } from '../router';
import { signIn } from '../session';
import { ProblemError, form, h, notice, page } from '../ui';

export const authRoutes: Route[] = [
  {
    path: '/sign-in',
    roles: 'public',
    nav: 'Sign in',
    render(_params, query) {
      const signedUp = query.get('signed-up');
      return page(
        'Sign in',
        signedUp ? notice(`Account created for ${signedUp}. Sign in to go on.`) : null,
        form({
          label: 'Sign in',
          submit: 'Sign in',
          fields: [
            { name: 'email', label: 'E-mail', type: 'email', required: true, autocomplete: 'username', value: signedUp ?? undefined },
            { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' },
          ],
          async onSubmit({ email = '', password = '' }) {
            const refused = await signIn(email, password);
            if (refused) throw new ProblemError(refused);
            const next = current().query.get('next');
            // '/' is each role's home (main.ts).
            navigate(next && next.startsWith('/') ? next : '/');
          },
        }),
        h('p', {}, 'No account yet? ', h('a', { href: '#/sign-up' }, 'Sign up')),
      );
    },
  },
  {
    path: '/sign-up',
    roles: 'public',
    nav: 'Sign up',
    render() {
      return page(
        'Sign up',
        h('p', {}, 'Customers get a wallet and vouchers; merchants take card payments. Operator accounts are created by the platform.'),
        form({
          label: 'Sign up',
          submit: 'Create account',
          fields: [
            {
              name: 'role',
              label: 'Account type',
              type: 'select',
              options: [
                { value: 'customer', label: 'Customer' },
                { value: 'merchant', label: 'Merchant' },
              ],
            },
            { name: 'email', label: 'E-mail', type: 'email', required: true, autocomplete: 'email' },
            { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'new-password', hint: '12 characters or more.' },
            { name: 'firstName', label: 'First name', required: true, autocomplete: 'given-name' },
            { name: 'lastName', label: 'Last name', required: true, autocomplete: 'family-name' },
            { name: 'phone', label: 'Mobile phone', type: 'tel', required: true, autocomplete: 'tel', placeholder: '+447700900123', hint: 'With the country code, e.g. +447700900123. Vouchers are sent to it by SMS.' },
            { name: 'business.name', label: 'Business name (merchants)', autocomplete: 'organization' },
            {
              name: 'business.acquiringBank',
              label: 'Acquiring bank (merchants)',
              type: 'select',
              options: [
                { value: 'piggy-bank', label: 'Piggy Bank' },
                { value: 'acme-acquiring', label: 'ACME Acquiring' },
              ],
            },
          ],
          async onSubmit(values) {
            const role = values.role === 'merchant' ? 'merchant' : 'customer';
            const user = await call(
              gateway.POST('/auth/sign-up', {
                body: {
                  role,
                  email: values.email ?? '',
                  password: values.password ?? '',
                  firstName: values.firstName ?? '',
                  lastName: values.lastName ?? '',
                  phone: values.phone ?? '',
                  ...(role === 'merchant'
                    ? { business: { name: values['business.name'] ?? '', acquiringBank: values['business.acquiringBank'] === 'acme-acquiring' ? 'acme-acquiring' : 'piggy-bank' } }
                    : {}),
                },
              }),
            );
            navigate('/sign-in', { 'signed-up': user.email });
          },
        }),
      );
    },
  },
];
