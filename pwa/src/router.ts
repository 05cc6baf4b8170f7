// A router for a few screens: the server answers every path with index.html, we pick the screen.
import { createStore } from './store';

export type Route =
  | { name: 'map' }
  | { name: 'report' }
  | { name: 'mine' }
  | { name: 'detail'; id: number }
  | { name: 'incident'; id: number }
  | { name: 'staff' }
  | { name: 'job'; id: number }
  | { name: 'notfound' };

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/') return { name: 'map' };
  if (path === '/report') return { name: 'report' };
  if (path === '/mine') return { name: 'mine' };
  const match = /^\/reports\/(\d{1,15})$/.exec(path);
  if (match) return { name: 'detail', id: Number(match[1]) };
  const incident = /^\/incidents\/(\d{1,15})$/.exec(path);
  if (incident) return { name: 'incident', id: Number(incident[1]) };
  if (path === '/staff') return { name: 'staff' };
  const job = /^\/staff\/jobs\/(\d{1,15})$/.exec(path);
  if (job) return { name: 'job', id: Number(job[1]) };
  return { name: 'notfound' };
}

export const routeStore = createStore<Route>(parseRoute(location.pathname));

window.addEventListener('popstate', () => routeStore.set(parseRoute(location.pathname)));

export function navigate(path: string): void {
  if (path !== location.pathname) history.pushState(null, '', path);
  routeStore.set(parseRoute(path));
  window.scrollTo(0, 0);
}

/** onClick for in-app links: plain navigation stays in the app, modified clicks do not. */
export function linkClick(event: MouseEvent): void {
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(anchor.pathname);
}
