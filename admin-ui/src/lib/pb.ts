import PocketBase from 'pocketbase';

/** The one SDK client; same origin as the dashboard, session kept in localStorage by LocalAuthStore. */
export const pb = new PocketBase('/');
// Two pages may ask for the same list at once (e.g. nav and page); never cancel one for the other.
pb.autoCancellation(false);

export const SUPERUSERS = '_superusers';

export function isSuperuser(): boolean {
  return pb.authStore.isValid && pb.authStore.record?.collectionName === SUPERUSERS;
}
