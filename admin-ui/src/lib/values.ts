import type { Field } from './types';

/** Short text for a table cell. */
export function cellText(f: Field, v: unknown): string {
  if (v === null || v === undefined || v === '') return '';
  switch (f.type) {
    case 'bool':
      return v ? 'true' : 'false';
    case 'json':
      return clip(JSON.stringify(v));
    case 'geoPoint': {
      const g = v as { lon?: unknown; lat?: unknown };
      return typeof g === 'object' ? `${g.lon}, ${g.lat}` : '';
    }
    case 'editor':
      return clip(String(v).replace(/<[^>]*>/g, ' '));
    default:
      return clip(Array.isArray(v) ? v.join(', ') : String(v));
  }
}

function clip(s: string, n = 80): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function isMulti(f: Field): boolean {
  return Number(f.maxSelect ?? 0) > 1;
}

/** Dates travel as `YYYY-MM-DD HH:MM:SS.sssZ` (UTC); `datetime-local` inputs want `YYYY-MM-DDTHH:MM:SS`. */
export function dateToInput(v: unknown): string {
  if (typeof v !== 'string' || !v) return '';
  return v.replace(' ', 'T').replace(/(\.\d+)?Z$/, '').slice(0, 19);
}

export function inputToDate(s: string): string {
  if (!s) return '';
  const [d, t = '00:00'] = s.split('T');
  const [hm, frac = ''] = t.split('.');
  const hms = hm.length === 5 ? `${hm}:00` : hm.slice(0, 8);
  return `${d} ${hms}.${(frac + '000').slice(0, 3)}Z`;
}

export type GeoForm = { lon: string | number | null; lat: string | number | null };

/**
 * Form state for one field: strings for text-like inputs, booleans, string arrays for
 * multi-selects and relations, lon/lat strings for geo points.
 */
export type FormValue = string | boolean | string[] | GeoForm;

export function toForm(f: Field, v: unknown): FormValue {
  switch (f.type) {
    case 'bool':
      return v === true;
    case 'date':
    case 'autodate':
      return dateToInput(v);
    case 'json':
      return v === null || v === undefined ? '' : JSON.stringify(v, null, 2);
    case 'number':
      return v === null || v === undefined ? '' : String(v);
    case 'select':
      if (isMulti(f)) return Array.isArray(v) ? v.map(String) : v ? [String(v)] : [];
      return typeof v === 'string' ? v : '';
    case 'relation':
      return Array.isArray(v) ? v.map(String) : typeof v === 'string' && v ? [v] : [];
    case 'geoPoint': {
      const g = (v && typeof v === 'object' ? v : {}) as { lon?: unknown; lat?: unknown };
      return { lon: typeof g.lon === 'number' ? String(g.lon) : '0', lat: typeof g.lat === 'number' ? String(g.lat) : '0' };
    }
    case 'password':
      return '';
    default:
      return typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v);
  }
}

export class JsonInputError extends Error {}

/** Converts form state back to the wire value. Throws JsonInputError on malformed JSON. */
export function fromForm(f: Field, v: FormValue): unknown {
  switch (f.type) {
    case 'bool':
      return v === true;
    case 'number':
      return v === '' ? null : Number(v);
    case 'date':
      return inputToDate(String(v));
    case 'json':
      if (String(v).trim() === '') return null;
      try {
        return JSON.parse(String(v));
      } catch (e) {
        throw new JsonInputError(e instanceof Error ? e.message : 'Invalid JSON.');
      }
    case 'relation': {
      const ids = Array.isArray(v) ? v : [];
      return isMulti(f) ? ids : (ids[0] ?? '');
    }
    case 'geoPoint': {
      // Non-numbers become null (JSON has no NaN), which the server refuses with a message.
      // (A bound number input gives numbers, or null when empty.)
      const num = (x: unknown) => (x === null || x === undefined || String(x).trim() === '' ? 0 : Number(x));
      const g = v as GeoForm;
      return { lon: num(g.lon), lat: num(g.lat) };
    }
    default:
      return v;
  }
}

/** Fields the form edits: not autodate, not hidden token keys, id only when creating. */
export function editable(f: Field, creating: boolean): boolean {
  if (f.type === 'autodate') return false;
  if (f.name === 'tokenKey') return false;
  if (f.name === 'id') return creating;
  return true;
}
