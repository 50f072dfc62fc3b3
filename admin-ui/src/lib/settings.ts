/** The settings document of `GET/PATCH /api/settings` (src/settings/model.rs), PocketBase's shape. */
export type S3Settings = {
  enabled: boolean;
  bucket: string;
  region: string;
  endpoint: string;
  accessKey: string;
  /** Never returned by the server: '' in a form means "unchanged". */
  secret: string;
  forcePathStyle: boolean;
};
export type RateLimitRule = { label: string; audience: string; duration: number; maxRequests: number };
export type Settings = {
  meta: { appName: string; appURL: string; senderName: string; senderAddress: string; hideControls: boolean };
  smtp: {
    enabled: boolean;
    host: string;
    port: number;
    username: string;
    /** Never returned by the server: '' in a form means "unchanged". */
    password: string;
    authMethod: string;
    tls: boolean;
    localName: string;
  };
  s3: S3Settings;
  backups: { cron: string; cronMaxKeep: number; s3: S3Settings };
  rateLimits: { enabled: boolean; rules: RateLimitRule[] };
  trustedProxy: { headers: string[]; useLeftmostIP: boolean };
  batch: { enabled: boolean; maxRequests: number; timeout: number; maxBodySize: number };
  logs: { maxDays: number; minLevel: number; logIP: boolean; logAuthId: boolean };
};

const S3_DEFAULT: S3Settings = {
  enabled: false, bucket: '', region: '', endpoint: '', accessKey: '', secret: '', forcePathStyle: false,
};

/** The server's document with every key present and secrets as '' (what the forms edit). */
export function normalize(raw: unknown): Settings {
  const r = (raw ?? {}) as Partial<Record<keyof Settings, Record<string, unknown>>>;
  const s3 = (v: unknown): S3Settings => ({ ...S3_DEFAULT, ...(v as object), secret: '' });
  return {
    meta: { appName: '', appURL: '', senderName: '', senderAddress: '', hideControls: false, ...r.meta },
    smtp: {
      enabled: false, host: '', port: 587, username: '', authMethod: 'PLAIN', tls: false, localName: '',
      ...r.smtp, password: '',
    },
    s3: s3(r.s3),
    backups: { cron: '', cronMaxKeep: 3, ...r.backups, s3: s3(r.backups?.s3) },
    rateLimits: { enabled: false, ...r.rateLimits, rules: [...((r.rateLimits?.rules as RateLimitRule[]) ?? [])] },
    trustedProxy: { useLeftmostIP: false, ...r.trustedProxy, headers: [...((r.trustedProxy?.headers as string[]) ?? [])] },
    batch: { enabled: false, maxRequests: 50, timeout: 3, maxBodySize: 0, ...r.batch },
    logs: { maxDays: 5, minLevel: 0, logIP: true, logAuthId: false, ...r.logs },
  } as Settings;
}

/** A patch without empty secrets (empty = keep the stored one); numbers from empty inputs as 0. */
export function cleanPatch(patch: Record<string, unknown>): Record<string, unknown> {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'password' || k === 'secret') && x === '') continue;
        out[k] = walk(x);
      }
      return out;
    }
    return v === null ? 0 : v;
  };
  return walk(patch) as Record<string, unknown>;
}

/** Writes `src` into `target` key by key (nested objects merged, arrays and values copied). */
export function assignDeep(target: Record<string, unknown>, src: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(src)) {
    const t = target[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && t && typeof t === 'object' && !Array.isArray(t)) {
      assignDeep(t as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      target[k] = structuredClone(v);
    }
  }
}

/** PocketBase's log levels. */
export const LOG_LEVELS: { value: number; label: string }[] = [
  { value: -4, label: 'DEBUG' },
  { value: 0, label: 'INFO' },
  { value: 4, label: 'WARN' },
  { value: 8, label: 'ERROR' },
];

export function levelName(level: number): string {
  return LOG_LEVELS.find((l) => l.value === level)?.label ?? String(level);
}
