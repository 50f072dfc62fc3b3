import { pb, isSuperuser } from './pb';

/** The settings' `meta` the whole dashboard uses: the app name (tab title) and `hideControls`. */
export const appMeta = $state({ appName: '', hideControls: false });

export function setAppMeta(meta: { appName?: string; hideControls?: boolean } | undefined): void {
  appMeta.appName = meta?.appName ?? '';
  appMeta.hideControls = !!meta?.hideControls;
  document.title = appMeta.appName ? `${appMeta.appName} · Ferrobase` : 'Ferrobase';
}

/** Loads it for a signed-in superuser; failures leave the defaults (pages report their own). */
export async function loadAppMeta(): Promise<void> {
  if (!isSuperuser()) return;
  try {
    setAppMeta((await pb.settings.getAll()).meta);
  } catch {
    /* the defaults stay */
  }
}
