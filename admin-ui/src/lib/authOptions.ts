import type { Collection } from './types';

/** The auth options the editor shows, flattened; `toBody` turns them back into the API's keys. */
export type AuthDraft = {
  passwordEnabled: boolean;
  identityFields: string[];
  durations: {
    authToken: number;
    verificationToken: number;
    passwordResetToken: number;
    emailChangeToken: number;
    fileToken: number;
  };
  otpEnabled: boolean;
  otpDuration: number;
  otpLength: number;
  mfaEnabled: boolean;
  mfaDuration: number;
  alertEnabled: boolean;
};

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);
const bool = (v: unknown, d: boolean): boolean => (typeof v === 'boolean' ? v : d);

/** From a stored auth collection, or PocketBase's defaults for a new one. */
export function authDraft(c: Collection | null): AuthDraft {
  const s = (c ?? {}) as Obj;
  const pa = obj(s.passwordAuth);
  const dur = (k: string, d: number) => num(obj(s[k]).duration, d);
  return {
    passwordEnabled: bool(pa.enabled, true),
    identityFields: Array.isArray(pa.identityFields) ? pa.identityFields.map(String) : ['email'],
    durations: {
      authToken: dur('authToken', 432000),
      verificationToken: dur('verificationToken', 86400),
      passwordResetToken: dur('passwordResetToken', 1800),
      emailChangeToken: dur('emailChangeToken', 1800),
      fileToken: dur('fileToken', 180),
    },
    otpEnabled: bool(obj(s.otp).enabled, false),
    otpDuration: num(obj(s.otp).duration, 180),
    otpLength: num(obj(s.otp).length, 8),
    mfaEnabled: bool(obj(s.mfa).enabled, false),
    mfaDuration: num(obj(s.mfa).duration, 600),
    alertEnabled: bool(obj(s.authAlert).enabled, true),
  };
}

/** The API keys for `d` (nested objects are merged key by key by the server). */
export function authBody(d: AuthDraft): Obj {
  const out: Obj = {
    passwordAuth: { enabled: d.passwordEnabled, identityFields: d.identityFields },
    otp: { enabled: d.otpEnabled, duration: Number(d.otpDuration), length: Number(d.otpLength) },
    mfa: { enabled: d.mfaEnabled, duration: Number(d.mfaDuration) },
    authAlert: { enabled: d.alertEnabled },
  };
  for (const [k, v] of Object.entries(d.durations)) out[k] = { duration: Number(v) };
  return out;
}
