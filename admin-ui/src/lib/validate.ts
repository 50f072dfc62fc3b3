import { pb } from './pb';
import { failure, pathErrors, report, type FieldErrors } from './errors';

/**
 * Live feedback for a collection body: debounced dry runs of the save
 * (`POST /api/collections/meta/validate`, 204 = fine, 400 = the save's error envelope). Only the
 * answer to the newest body is reported; older ones that arrive late are dropped.
 */
export function liveValidator(onResult: (errors: FieldErrors | null, checking: boolean) => void, delay = 350) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let latest = 0;
  const run = async (body: Record<string, unknown>, n: number) => {
    try {
      await pb.send('/api/collections/meta/validate', { method: 'POST', body });
      if (n === latest) onResult({}, false);
    } catch (e) {
      if (n !== latest) return;
      const f = failure(e);
      if (f.status === 400) onResult(pathErrors(e), false);
      else {
        onResult({}, false);
        if (f.status === 401) report(e);
      }
    }
  };
  return {
    /** Schedules a check of `body` (replacing any pending one). */
    check(body: Record<string, unknown>) {
      clearTimeout(timer);
      const n = ++latest;
      onResult(null, true); // null: keep the current messages until the answer
      timer = setTimeout(() => run(body, n), delay);
    },
    cancel() {
      clearTimeout(timer);
      latest++;
    },
  };
}
