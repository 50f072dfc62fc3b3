/** Hash routing: `#/path?query`. Deep links work because the server only ever serves index.html. */

export type Route =
  | { name: 'login' }
  | { name: 'setup'; token: string }
  | { name: 'collections' }
  | { name: 'collection'; collection: string }
  | { name: 'records'; collection: string; query: URLSearchParams }
  | { name: 'editCollection'; collection: string }
  | { name: 'newCollection' }
  | { name: 'webhooks' }
  | { name: 'webhook'; id: string }
  | { name: 'collectionApi'; collection: string }
  | { name: 'superusers' }
  | { name: 'plugins' }
  | { name: 'settings'; section: string }
  | { name: 'logs'; query: URLSearchParams }
  | { name: 'backups' }
  | { name: 'notfound'; path: string };

function parse(hash: string): { path: string; query: URLSearchParams } {
  const raw = hash.replace(/^#/, '') || '/collections';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  return { path, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

function resolve(hash: string): Route {
  const { path, query } = parse(hash);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 1 && parts[0] === 'login') return { name: 'login' };
  if (parts.length === 1 && parts[0] === 'setup') return { name: 'setup', token: query.get('token') ?? '' };
  if (parts[0] === 'collections') {
    if (parts.length === 1) return { name: 'collections' };
    if (parts.length === 2) return { name: 'collection', collection: parts[1] };
    if (parts.length === 3 && parts[2] === 'records') return { name: 'records', collection: parts[1], query };
    if (parts.length === 3 && parts[2] === 'edit') return { name: 'editCollection', collection: parts[1] };
    if (parts.length === 3 && parts[2] === 'api') return { name: 'collectionApi', collection: parts[1] };
  }
  if (parts.length === 1 && parts[0] === 'new-collection') return { name: 'newCollection' };
  if (parts[0] === 'webhooks') {
    if (parts.length === 1) return { name: 'webhooks' };
    if (parts.length === 2) return { name: 'webhook', id: parts[1] };
  }
  if (parts.length === 1 && parts[0] === 'superusers') return { name: 'superusers' };
  if (parts.length === 1 && parts[0] === 'plugins') return { name: 'plugins' };
  if (parts[0] === 'settings' && parts.length <= 2) return { name: 'settings', section: parts[1] ?? 'application' };
  if (parts.length === 1 && parts[0] === 'logs') return { name: 'logs', query };
  if (parts.length === 1 && parts[0] === 'backups') return { name: 'backups' };
  if (parts.length === 0) return { name: 'collections' };
  return { name: 'notfound', path };
}

export const router = $state({ route: resolve(location.hash) });

window.addEventListener('hashchange', () => {
  router.route = resolve(location.hash);
});

/** Navigates to a hash path such as `/collections/posts`. */
export function go(path: string, replace = false): void {
  const url = `#${path}`;
  if (replace) {
    history.replaceState(null, '', url);
    router.route = resolve(url);
  } else {
    location.hash = path;
  }
}

export function collectionHref(name: string, records = false): string {
  return `#/collections/${encodeURIComponent(name)}${records ? '/records' : ''}`;
}

/** Rewrites the current hash's query (e.g. paging state) without a navigation or history entry. */
export function replaceQuery(params: Record<string, string | number>): void {
  const { path } = parse(location.hash);
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined) q.set(k, String(v));
  const s = q.toString();
  history.replaceState(null, '', `#${path}${s ? `?${s}` : ''}`);
}
