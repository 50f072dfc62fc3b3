import { pb } from './pb';
import type { Field, RecordRow } from './types';

/** The server's size limit when `maxSize` is 0 (PocketBase's 5 MiB). */
export const DEFAULT_MAX_SIZE = 5 * 1024 * 1024;
/** The largest `maxSize` the server accepts (2 GiB). */
export const MAX_MAX_SIZE = 2 * 1024 * 1024 * 1024;
/** Largest thumb side the server accepts. */
export const MAX_THUMB_SIDE = 4096;
/** Most files one field holds (the server's bound on `maxSelect`). */
export const MAX_FILES = 99;

export const SIZE_UNITS = [
  { label: 'bytes', bytes: 1 },
  { label: 'KiB', bytes: 1024 },
  { label: 'MiB', bytes: 1024 * 1024 },
  { label: 'GiB', bytes: 1024 * 1024 * 1024 },
] as const;

/** `bytes` as an amount of the largest unit that divides it exactly (0 → 0 bytes). */
export function splitSize(bytes: number): { amount: number; unit: number } {
  for (let i = SIZE_UNITS.length - 1; i > 0; i--) {
    const u = SIZE_UNITS[i].bytes;
    if (bytes > 0 && bytes % u === 0) return { amount: bytes / u, unit: u };
  }
  return { amount: bytes, unit: 1 };
}

/** A readable size: `1.5 MiB`, `300 bytes`. */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${bytes} bytes`;
  let i = 0;
  let v = bytes;
  while (v >= 1024 && i < SIZE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${SIZE_UNITS[i].label}`;
}

/**
 * Whether `spec` is a thumb size the server accepts: `WxH` with an optional `t`/`b`/`f` suffix,
 * or `0xH`/`Wx0`, not `0x0`, each side at most 4096 (as src/schema/fields/file.rs).
 */
export function validThumb(spec: string): boolean {
  const m = /^(\d{1,5})x(\d{1,5})[tbf]?$/.exec(spec);
  if (!m) return false;
  const w = Number(m[1]);
  const h = Number(m[2]);
  return w <= MAX_THUMB_SIDE && h <= MAX_THUMB_SIDE && !(w === 0 && h === 0);
}

export function validMime(m: string): boolean {
  return /^[\w.+-]+\/[\w.+-]+$/.test(m);
}

/** Common MIME type groups offered as one-click presets in the editor. */
export const MIME_PRESETS: Record<string, string[]> = {
  Images: ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/svg+xml'],
  Documents: [
    'application/pdf',
    'text/plain',
    'text/csv',
    'application/msword',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    'application/vnd.ms-excel',
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ],
  Video: ['video/mp4', 'video/webm', 'video/ogg', 'video/quicktime'],
  Audio: ['audio/mpeg', 'audio/ogg', 'audio/wav', 'audio/webm', 'audio/mp4'],
};

/** Stored names the server makes thumbnails of (the others are served as they are). */
export function isImageName(name: string): boolean {
  return /\.(png|jpe?g|gif|webp)$/i.test(name);
}

/** The names a file field's value holds (a string for single fields, a list for multiple). */
export function fileNames(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x !== '');
  return typeof v === 'string' && v ? [v] : [];
}

/** Download URL of a stored file; a thumb for images when asked, `token` for protected fields. */
export function fileURL(record: RecordRow, name: string, opts: { thumb?: string; token?: string } = {}): string {
  const q: Record<string, string> = {};
  if (opts.thumb && isImageName(name)) q.thumb = opts.thumb;
  if (opts.token) q.token = opts.token;
  return pb.files.getURL(record, name, q);
}

/** A file token for protected files (superusers can get one), or '' when none is needed. */
export async function fileTokenFor(fields: Field[]): Promise<string> {
  if (!fields.some((f) => f.type === 'file' && f.protected === true)) return '';
  return pb.files.getToken();
}

function isFile(v: unknown): v is Blob {
  return v instanceof Blob;
}

function hasFile(v: unknown): boolean {
  return (Array.isArray(v) ? v : [v]).some(isFile);
}

/**
 * The multipart body the PocketBase JS SDK builds from a body with files (its
 * `convertToFormDataIfNeeded`): files and plain values become parts named after their key, other
 * JSON values (objects, arrays, null) one `@jsonPayload` part each.
 */
export function toFormData(body: Record<string, unknown>): FormData {
  const form = new FormData();
  for (const [key, v] of Object.entries(body)) {
    if (v === undefined) continue;
    if (typeof v !== 'object' || hasFile(v)) {
      for (const item of Array.isArray(v) ? v : [v]) form.append(key, isFile(item) ? item : String(item));
    } else {
      form.append('@jsonPayload', JSON.stringify({ [key]: v }));
    }
  }
  return form;
}
