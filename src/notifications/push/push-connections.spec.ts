/// <reference types="jest" />
// The build tsconfig also compiles src/** (without jest types), hence the reference above.
import type { LookupFunction } from 'node:net';
import type { ResolvedAddress } from '../../common/host-allow-list';
import { PushConnections } from './push-connections';

describe('connections to push services', () => {
  const fcm = new URL('https://fcm.googleapis.com/fcm/send/abc');
  const at = (address: string): ResolvedAddress => ({ address, family: 4 });
  let pool: PushConnections;
  beforeEach(() => (pool = new PushConnections()));
  afterEach(() => pool.close());

  /** Where the agent's connections go, whatever name they ask for. */
  const connectsTo = (agent: ReturnType<PushConnections['agentFor']>) =>
    new Promise<string>((resolve, reject) =>
      (agent.options as { lookup: LookupFunction }).lookup('fcm.googleapis.com', {}, (e, address) => (e ? reject(e) : resolve(address as string))),
    );

  it('pushes to the same service at the same checked address share one kept-alive agent', async () => {
    const agent = pool.agentFor(fcm, at('142.250.74.42'));
    expect(pool.agentFor(new URL('https://fcm.googleapis.com/fcm/send/other'), at('142.250.74.42'))).toBe(agent);
    expect(agent.options).toMatchObject({ keepAlive: true, maxSockets: 16, timeout: 30_000 });
    await expect(connectsTo(agent)).resolves.toBe('142.250.74.42');
  });

  it('another checked address, or another host or port, gets another agent, connecting to that address only', async () => {
    const first = pool.agentFor(fcm, at('142.250.74.42'));
    const other = pool.agentFor(fcm, at('142.250.74.43'));
    expect(other).not.toBe(first);
    await expect(connectsTo(other)).resolves.toBe('142.250.74.43');
    await expect(connectsTo(first)).resolves.toBe('142.250.74.42');
    expect(pool.agentFor(new URL('https://fcm.googleapis.com:8443/x'), at('142.250.74.42'))).not.toBe(first);
    expect(pool.agentFor(new URL('https://other.googleapis.com/x'), at('142.250.74.42'))).not.toBe(first);
  });

  it('every agent shares one TLS context (the configured CA built once)', () => {
    const a = pool.agentFor(fcm, at('142.250.74.42'));
    const b = pool.agentFor(fcm, at('142.250.74.43'));
    expect((a.options as { secureContext?: unknown }).secureContext).toBeDefined();
    expect((a.options as { secureContext?: unknown }).secureContext).toBe((b.options as { secureContext?: unknown }).secureContext);
  });

  it('past the bound the least recently used agent is destroyed and dropped', () => {
    pool = new PushConnections(undefined, { maxAgents: 2 });
    const first = pool.agentFor(fcm, at('10.0.0.1'));
    const second = pool.agentFor(fcm, at('10.0.0.2'));
    const destroyFirst = jest.spyOn(first, 'destroy');
    const destroySecond = jest.spyOn(second, 'destroy');
    // Using the first again makes the second the oldest.
    expect(pool.agentFor(fcm, at('10.0.0.1'))).toBe(first);
    pool.agentFor(fcm, at('10.0.0.3'));
    expect(destroySecond).toHaveBeenCalledTimes(1);
    expect(destroyFirst).not.toHaveBeenCalled();
    expect(pool.agentFor(fcm, at('10.0.0.2'))).not.toBe(second);
  });

  it('close destroys every agent', () => {
    const agents = [pool.agentFor(fcm, at('10.0.0.1')), pool.agentFor(fcm, at('10.0.0.2'))];
    const destroyed = agents.map((a) => jest.spyOn(a, 'destroy'));
    pool.close();
    for (const d of destroyed) expect(d).toHaveBeenCalledTimes(1);
    expect(pool.agentFor(fcm, at('10.0.0.1'))).not.toBe(agents[0]);
  });
});
