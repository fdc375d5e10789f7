// The console's shell: the navigation for the signed-in role, the page for the address, and
// sign-out. Pages live in pages/ (one module per role, plus signing in and up).
import { authRoutes } from './pages/auth';
import { customerRoutes } from './pages/customer';
import { merchantRoutes } from './pages/merchant';
import { operatorRoutes } from './pages/operator';
import { type Route, current, href, match, navigate } from './router';
import { type Role, onSignedOut, principal, resume, signOut } from './session';
import { h, notice, page } from './ui';

const routes: readonly Route[] = [...authRoutes, ...merchantRoutes, ...customerRoutes, ...operatorRoutes];

/** Where each role starts. */
const HOME: Record<Role, string> = { merchant: '/payments', customer: '/wallet', operator: '/contracts' };

const view = document.getElementById('view')!;
const nav = document.getElementById('nav')!;
let rendering = 0;

function renderNav(): void {
  const who = principal();
  const links = who
    ? routes.filter((r) => r.nav && r.roles !== 'public' && r.roles.includes(who.role))
    : routes.filter((r) => r.nav && r.roles === 'public');
  // The section the page is in: the longest nav path the address starts with (a contract's page is under Company).
  const path = current().path;
  const section = links
    .filter((r) => path === r.path || path.startsWith(`${r.path}/`))
    .sort((a, b) => b.path.length - a.path.length)[0];
  nav.replaceChildren(
    h(
      'ul',
      {},
      links.map((r) =>
        h(
          'li',
          {},
          h(
            'a',
            {
              href: href(r.path),
              'aria-current': r === section ? 'page' : undefined,
              // The page already shown, clicked again: read it again (the address does not change).
              onclick: () => void (location.hash === href(r.path) && render()),
            },
            r.nav!,
          ),
        ),
      ),
      who
        ? h(
            'li',
            { class: 'signed-in' },
            h('span', { class: 'role' }, who.role),
            h('button', { type: 'button', class: 'link', onclick: () => void signOut().then(() => navigate('/sign-in')) }, 'Sign out'),
          )
        : null,
    ),
  );
}

async function render(): Promise<void> {
  const ticket = ++rendering;
  const { path, query } = current();
  const who = principal();
  if (path === '/') return navigate(who ? HOME[who.role] : '/sign-in');
  const found = match(routes, path);
  renderNav();
  if (!found) return show(page('Not found', notice(`No page at ${path}.`, 'error')));
  const { route, params } = found;
  if (route.roles !== 'public' && !who) return navigate('/sign-in', { next: path });
  if (route.roles !== 'public' && !route.roles.includes(who!.role)) return show(page('Not for your role', notice(`A ${who!.role} account cannot open this page.`, 'error')));
  view.setAttribute('aria-busy', 'true');
  try {
    const content = await route.render(params, query);
    // A later navigation won: drop this one.
    if (ticket === rendering) show(content);
  } catch (err) {
    if (ticket === rendering) show(page('Could not load this page', notice((err as Error).message, 'error')));
  }
}

function show(content: HTMLElement): void {
  // A page read again in place (a pending payment followed) keeps the reader where they are;
  // a new page moves the focus to its heading, as a page load would.
  const newPage = view.dataset.rendered !== location.hash;
  view.replaceChildren(content);
  view.removeAttribute('aria-busy');
  // Which address the page shown belongs to (tests wait for it after navigating).
  view.dataset.rendered = location.hash;
  if (newPage) content.querySelector<HTMLElement>('h1')?.focus();
  document.title = `${content.querySelector('h1')?.textContent ?? 'Payspec'} · Payspec console`;
}

// The skip link jumps to the content without changing the address (the hash is the route).
document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  view.focus();
});
onSignedOut(() => renderNav());
window.addEventListener('hashchange', () => void render());
resume();
void render();
