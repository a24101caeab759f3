/**
 * Calls that ride together: the keys asked for in one turn of the event loop go in one run, and
 * while `maxInFlight` runs are going, further keys queue and go in the next, one round trip for
 * all of them. Alone, a key runs at the end of its turn (no waiting window); under load, one run
 * serves many: the audit's group commit (AuditBatcher), a worker's delivery loads. A failed run
 * fails only the keys it carried.
 */
export class GroupedCalls<Key, Value> {
  private queue: { key: Key; resolve: (value: Value | undefined) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;
  /** A pump is due at the end of this turn (setImmediate): the requests served in one turn share a run. */
  private pumpDue = false;

  constructor(
    /** Runs for the keys; what it does not return is undefined for that key. */
    private readonly runMany: (keys: Key[]) => Promise<Map<string, Value>>,
    /** The key as the map returned by `runMany` names it. */
    private readonly idOf: (key: Key) => string,
    private readonly limits: { maxInFlight: number; maxBatch: number } = { maxInFlight: 2, maxBatch: 100 },
  ) {}

  /** Nothing queued or running (for a graceful shutdown). */
  get idle(): boolean {
    return this.inFlight === 0 && this.queue.length === 0;
  }

  call(key: Key): Promise<Value | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      if (this.pumpDue) return;
      this.pumpDue = true;
      setImmediate(() => {
        this.pumpDue = false;
        this.pump();
      });
    });
  }

  private pump(): void {
    while (this.queue.length && this.inFlight < this.limits.maxInFlight) {
      const batch = this.queue.splice(0, this.limits.maxBatch);
      this.inFlight++;
      this.runMany(batch.map((b) => b.key))
        .then(
          (found) => batch.forEach((b) => b.resolve(found.get(this.idOf(b.key)))),
          (e: unknown) => batch.forEach((b) => b.reject(e)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
