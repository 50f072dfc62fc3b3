/** Keys of a request log entry's `data` (src/logs: PocketBase's request log shape). */
export const LOG_DATA_KEYS = [
  'type', 'method', 'url', 'status', 'execTime', 'remoteIP', 'userIP', 'referer', 'userAgent', 'auth', 'authId', 'error',
];

/**
 * The logs page's filter box as a server filter: text without an operator searches the message,
 * URL, error and IPs (like PocketBase's search box); in an expression the bare data keys are
 * shortcuts (`status >= 400` → `data.status >= 400`). Quoted strings are left alone.
 */
export function normalizeLogFilter(raw: string): string {
  const f = raw.trim();
  if (!f) return '';
  if (!/[=<>~!]|&&|\|\|/.test(f)) {
    const s = f.replace(/["'\\]/g, '');
    return ['message', 'data.url', 'data.error', 'data.userIP', 'data.auth'].map((k) => `${k} ~ "${s}"`).join(' || ');
  }
  let out = '';
  let i = 0;
  while (i < f.length) {
    const c = f[i];
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < f.length && f[j] !== c) j += f[j] === '\\' ? 2 : 1;
      out += f.slice(i, j + 1);
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < f.length && /\w/.test(f[j])) j++;
      const word = f.slice(i, j);
      const prev = i > 0 ? f[i - 1] : '';
      const bare = prev !== '.' && prev !== '@' && prev !== ':' && f[j] !== '.';
      out += bare && LOG_DATA_KEYS.includes(word) ? `data.${word}` : word;
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}
