/**
 * Reads by key that ride together: while `maxInFlight` queries are running, further keys queue
 * and go in the next query, one round trip for all of them. Alone, a key is read at once (no
 * waiting window); under load (a worker running many jobs at a time), one query serves many.
 * Like AuditBatcher's group commit, for reads: a failed query fails only the keys it carried.
 */
export class BatchedReads<Key, Value> {
  private queue: { key: Key; resolve: (value: Value | undefined) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    /** Reads the keys; what it does not return is undefined for that key. */
    private readonly readMany: (keys: Key[]) => Promise<Map<string, Value>>,
    /** The key as the map returned by `readMany` names it. */
    private readonly idOf: (key: Key) => string,
    private readonly limits: { maxInFlight: number; maxBatch: number } = { maxInFlight: 2, maxBatch: 100 },
  ) {}

  read(key: Key): Promise<Value | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length && this.inFlight < this.limits.maxInFlight) {
      const batch = this.queue.splice(0, this.limits.maxBatch);
      this.inFlight++;
      this.readMany(batch.map((b) => b.key))
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
