import type { Field } from './types';
import { humanSize } from './files';

const BASE_KEYS = new Set(['id', 'name', 'type', 'system', 'hidden', 'required', 'presentable', 'help']);

function isDefault(v: unknown): boolean {
  return v === null || v === undefined || v === '' || v === 0 || v === false || (Array.isArray(v) && v.length === 0);
}

function show(v: unknown): string {
  if (Array.isArray(v)) return v.join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The options of a field that differ from their defaults, as `key: value` strings. */
export function keyOptions(f: Field, collectionNames: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(f)) {
    if (BASE_KEYS.has(k) || isDefault(v)) continue;
    if (k === 'collectionId' && typeof v === 'string') {
      out.push(`collection: ${collectionNames.get(v) ?? v}`);
    } else if (k === 'maxSize' && f.type === 'file' && typeof v === 'number') {
      out.push(`maxSize: ${humanSize(v)}`);
    } else if (v === true) {
      out.push(k);
    } else {
      out.push(`${k}: ${show(v)}`);
    }
  }
  return out;
}
