import { ClientResponseError } from 'pocketbase';
import { pb } from './pb';
import { go } from './router.svelte';
import { toast } from './toast.svelte';

/** Field messages from PocketBase's envelope `{status, message, data: {field: {code, message}}}`. */
export type FieldErrors = Record<string, string>;

export type ApiFailure = { status: number; message: string; fields: FieldErrors };

export function failure(err: unknown): ApiFailure {
  if (err instanceof ClientResponseError) {
    const body = err.response as { message?: unknown; data?: unknown };
    const fields: FieldErrors = {};
    if (body?.data && typeof body.data === 'object') {
      for (const [k, v] of Object.entries(body.data as Record<string, unknown>)) {
        const m = (v as { message?: unknown })?.message;
        if (typeof m === 'string') fields[k] = m;
      }
    }
    const message =
      typeof body?.message === 'string' && body.message
        ? body.message
        : err.status === 0
          ? 'Cannot reach the server.'
          : err.message;
    return { status: err.status, message, fields };
  }
  return { status: 0, message: err instanceof Error ? err.message : String(err), fields: {} };
}

/** Reports an API error as a toast; a 401 ends the session. Returns the parsed failure. */
export function report(err: unknown): ApiFailure {
  const f = failure(err);
  if (f.status === 401 && pb.authStore.isValid) {
    pb.authStore.clear();
    go('/login');
  }
  toast(f.message, 'error');
  return f;
}

/**
 * Every message of the envelope's `data`, nested or not, keyed by its dotted path:
 * `{fields: {"3": {name: {message}}}}` → `{"fields.3.name": message}`.
 */
export function pathErrors(err: unknown): FieldErrors {
  const out: FieldErrors = {};
  if (!(err instanceof ClientResponseError)) return out;
  const walk = (v: unknown, path: string) => {
    if (!v || typeof v !== 'object') return;
    const m = (v as { message?: unknown; code?: unknown }).message;
    if (typeof m === 'string' && typeof (v as { code?: unknown }).code === 'string') {
      out[path] = m;
      return;
    }
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) walk(child, path ? `${path}.${k}` : k);
  };
  walk((err.response as { data?: unknown })?.data, '');
  return out;
}
