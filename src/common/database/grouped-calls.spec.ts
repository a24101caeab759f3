import { GroupedCalls } from './grouped-calls';

/** A readMany whose queries are answered when the test says so. */
function controlledReads(maxInFlight = 1) {
  const calls: { keys: string[]; answer: (found: Record<string, number>) => void; fail: (e: Error) => void }[] = [];
  const readMany = (keys: string[]) =>
    new Promise<Map<string, number>>((resolve, reject) => {
      calls.push({ keys, answer: (found) => resolve(new Map(Object.entries(found))), fail: reject });
    });
  return { calls, reads: new GroupedCalls<string, number>(readMany, (k) => k, { maxInFlight, maxBatch: 3 }) };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('GroupedCalls', () => {
  it('reads a key alone at the end of the turn, without waiting for company', async () => {
    const { calls, reads } = controlledReads();
    const a = reads.call('a');
    expect(calls).toEqual([]);
    await settle();
    expect(calls.map((c) => c.keys)).toEqual([['a']]);
    calls[0].answer({ a: 1 });
    await expect(a).resolves.toBe(1);
  });

  it('reads the keys asked for in one turn of the event loop together, though runs are free', async () => {
    const { calls, reads } = controlledReads(4);
    const [a, b] = ['a', 'b'].map((k) => reads.call(k));
    await settle();
    const c = reads.call('c');
    await settle();
    expect(calls.map((x) => x.keys)).toEqual([['a', 'b'], ['c']]);
    calls[0].answer({ a: 1, b: 2 });
    calls[1].answer({ c: 3 });
    await expect(Promise.all([a, b, c])).resolves.toEqual([1, 2, 3]);
  });

  it('queues keys while a query runs and reads them together in the next, each answered with its own row', async () => {
    const { calls, reads } = controlledReads();
    const a = reads.call('a');
    await settle();
    const [b, c, d] = ['b', 'c', 'd'].map((k) => reads.call(k));
    await settle();
    expect(calls.map((x) => x.keys)).toEqual([['a']]);
    calls[0].answer({ a: 1 });
    await settle();
    expect(calls.map((x) => x.keys)).toEqual([['a'], ['b', 'c', 'd']]);
    calls[1].answer({ d: 4, b: 2 });
    await expect(Promise.all([a, b, c, d])).resolves.toEqual([1, 2, undefined, 4]);
  });

  it('takes at most maxBatch keys a query', async () => {
    const { calls, reads } = controlledReads();
    void reads.call('a');
    await settle();
    for (const k of ['b', 'c', 'd', 'e']) void reads.call(k);
    await settle();
    calls[0].answer({});
    await settle();
    calls[1].answer({});
    await settle();
    expect(calls.map((x) => x.keys)).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
  });

  it('a failed query fails the keys it carried and no others', async () => {
    const { calls, reads } = controlledReads();
    const a = reads.call('a');
    await settle();
    const b = reads.call('b');
    await settle();
    calls[0].fail(new Error('connection lost'));
    await expect(a).rejects.toThrow('connection lost');
    await settle();
    calls[1].answer({ b: 2 });
    await expect(b).resolves.toBe(2);
  });
});
