import { ApiResponse } from './api';
import { sleep } from './callback-server';

/**
 * Runs `probe` until `done` holds (or `limitMs` pass); returns the last answer and the time it
 * took: how the propagation tests measure when a second instance sees a change.
 */
export async function until(probe: () => Promise<ApiResponse>, done: (r: ApiResponse) => boolean, t0 = Date.now(), limitMs = 3000) {
  for (;;) {
    const res = await probe();
    const elapsed = Date.now() - t0;
    if (done(res) || elapsed > limitMs) return { res, elapsed };
    await sleep(5);
  }
}
