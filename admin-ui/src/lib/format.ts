/** Byte counts as `1.4 MB` (binary units, like the files pages). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A server datetime (`YYYY-MM-DD HH:MM:SS.sssZ` or RFC 3339) as a Date; null when unparsable. */
export function parseDate(s: string): Date | null {
  if (!s) return null;
  const d = new Date(s.includes('T') ? s : s.replace(' ', 'T'));
  return Number.isNaN(d.getTime()) ? null : d;
}

/** A server datetime in the browser's locale, seconds included; the raw text when unparsable. */
export function formatDate(s: string): string {
  const d = parseDate(s);
  return d ? d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : s;
}
