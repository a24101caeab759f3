/**
 * Where a durable approval cycle's CPU goes, step by step (issue 13): parks, each e-mailed to
 * its approver through a local SMTP sink, then a vote on each, then each token's redemption, one
 * step at a time with 10 requests in flight. For each step, the service's CPU and every Postgres
 * process's CPU (/proc) over the step and the asynchronous work it causes (the e-mail, the outbox,
 * the sealer), divided by the requests made. Baseline, in the same run: the CPU of bare
 * Nest+Fastify's POST /echo per request, sent the same way.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { DEV_GATEWAY_ISSUER } from '../src/common/keys/key-files';
import { NotificationSinks } from './fan-out';
import { benchRedisPrefix, cpuSeconds, Figure, http, linkMinter, parkBody, resetDatabase, round, Server, Signer, startServer, stop } from './support';

const IN_FLIGHT = 10;
/** After a step's requests (and its e-mails): the rest of its asynchronous work (outbox, sealer) before the next step is measured. */
const SETTLE_MS = 3000;

/** CPU seconds used so far by each running Postgres process, by pid. */
function postgresCpu(): Map<string, number> {
  const used = new Map<string, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      used.set(pid, cpuSeconds(Number(pid)));
    } catch {
      // Gone between the listing and the read: a backend that closed.
    }
  }
  return used;
}

/** CPU seconds Postgres used between two readings (a backend that exited in between loses only its last moments). */
function postgresCpuBetween(before: Map<string, number>, after: Map<string, number>): number {
  let used = 0;
  for (const [pid, seconds] of after) used += seconds - (before.get(pid) ?? 0);
  return used;
}

/** Runs `each` over `items`, IN_FLIGHT at a time, and returns its results in order. */
async function inFlight<T, R>(items: T[], each: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await each(items[i]);
      }
    }),
  );
  return results;
}

interface StepCost {
  service: number;
  postgres: number;
}

/** Resolves once `done()` holds (checked every 50 ms); fails after a minute. */
async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`not within a minute: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The CPU per item, in ms, of `run` and the work it leaves behind (until `finished` holds, then
 * SETTLE_MS more), on `server` and in Postgres.
 */
async function measured<T>(server: Server, items: T[], run: (item: T) => Promise<unknown>, finished = () => true): Promise<StepCost> {
  const service0 = cpuSeconds(server.proc.pid!);
  const postgres0 = postgresCpu();
  await inFlight(items, run);
  await until('the step’s asynchronous work', finished);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const service = cpuSeconds(server.proc.pid!) - service0;
  const postgres = postgresCpuBetween(postgres0, postgresCpu());
  return { service: (service * 1000) / items.length, postgres: (postgres * 1000) / items.length };
}

function expectStatus(step: string, status: number, body: unknown): void {
  if (status !== 200) throw new Error(`${step}: ${status} ${JSON.stringify(body)}`);
}

export async function cycleStepFigures(keysDir: string, signingKeysFile: string, signDev: Signer, cycles: number): Promise<Figure[]> {
  const sinks = new NotificationSinks();
  await sinks.start(keysDir);
  const databaseUrl = await resetDatabase('countersign_bench_steps');
  const port = 3905;
  const service = await startServer(
    {
      DEMO_MODE: 'true',
      KEYS_DIR: keysDir,
      DATABASE_URL: databaseUrl,
      REDIS_PREFIX: benchRedisPrefix('bench-steps'),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      SMTP_URL: `smtp://127.0.0.1:${sinks.smtpPort}`,
    },
    port,
  );
  const bare = await startServer({}, 3906, 'dist/bench/bare-nest.js');
  try {
    const admin = await signDev({ tenant: 'steps', scope: 'countersign:admin' }, DEV_GATEWAY_ISSUER, 'bench-idp');
    const gateway = await signDev({ tenant: 'steps' }, DEV_GATEWAY_ISSUER, 'bench-gateway');
    await http('PUT', `${service.url}/v1/approvers/alice`, admin, { display_name: 'Alice' });
    await http('PUT', `${service.url}/v1/approvers/bob`, admin, { display_name: 'Bob', email: 'bob@steps.example' });
    const mintLink = await linkMinter(signingKeysFile, service.url, 'steps');
    const park = async () => {
      const res = await http('POST', `${service.url}/v1/approvals`, gateway, parkBody());
      expectStatus('park', res.status, res.body);
      return res.body.auth_req_id as string;
    };
    const vote = async ([id, link]: [string, string]) => {
      const res = await http('POST', `${service.url}/v1/approvals/${id}/decisions`, link, {
        decision: 'approve',
        reason: 'checked against the purchase order',
      });
      expectStatus('vote', res.status, res.body);
    };
    const redeem = async (id: string) => {
      const res = await http('POST', `${service.url}/v1/approvals/${id}/token`, gateway);
      expectStatus('redeem', res.status, res.body);
    };
    const echo = async () => {
      const res = await http('POST', `${bare.url}/echo`, '', { payload: 'x'.repeat(1000) });
      expectStatus('bare echo', res.status, res.body);
    };

    // A warm-up cycle set first: the JIT, the pools and the prepared statements, as a service that has run a while.
    const warm = await inFlight(Array.from({ length: 300 }), park);
    await until('the warm-up’s e-mails', () => sinks.emails >= warm.length);
    await inFlight(await Promise.all(warm.map(async (id) => [id, await mintLink(id, 'bob')] as [string, string])), vote);
    await inFlight(warm, redeem);
    await inFlight(Array.from({ length: 300 }), echo);

    const emailsBefore = sinks.emails;
    const baseline = await measured(bare, Array.from({ length: cycles }), echo);
    const ids: string[] = [];
    // The park's step lasts until its e-mails are in the sink.
    const parked = await measured(
      service,
      Array.from({ length: cycles }),
      async () => ids.push(await park()),
      () => sinks.emails - emailsBefore >= cycles,
    );
    const emails = sinks.emails - emailsBefore;
    // Minted before the step is measured: the links' signing is the e-mail's work, counted in the park.
    const links = await Promise.all(ids.map(async (id) => [id, await mintLink(id, 'bob')] as [string, string]));
    const voted = await measured(service, links, vote);
    const redeemed = await measured(service, ids, redeem);

    const bareCpu = { name: 'bare Nest+Fastify POST /echo, its process, per request', value: round(baseline.service, 3), unit: 'ms CPU' };
    const how = `${cycles} of each, ${IN_FLIGHT} in flight, one step at a time; CPU over the step and its asynchronous work (${SETTLE_MS / 1000} s after the last)`;
    const figures: Figure[] = [];
    for (const [step, cost, note] of [
      ['a park, its approver e-mailed', parked, `${emails} e-mails received for ${cycles} parks`],
      ['a vote', voted, undefined],
      ['a redemption', redeemed, undefined],
    ] as const) {
      figures.push({
        name: `cycle step CPU, the service: ${step}`,
        value: round(cost.service, 3),
        unit: 'ms CPU',
        baseline: bareCpu,
        ratio: round(cost.service / baseline.service, 1),
        note: [how, note].filter(Boolean).join('; '),
      });
      figures.push({
        name: `cycle step CPU, Postgres: ${step}`,
        value: round(cost.postgres, 3),
        unit: 'ms CPU',
        note: 'every Postgres process, over the same time',
      });
    }
    const whole = parked.service + parked.postgres + voted.service + voted.postgres + redeemed.service + redeemed.postgres;
    figures.push({
      name: 'cycle CPU, the service and Postgres (park, vote, redemption)',
      value: round(whole, 3),
      unit: 'ms CPU',
      baseline: bareCpu,
      ratio: round(whole / baseline.service, 1),
      note: `at most ${Math.floor(2000 / whole)} cycles/s on two cores, with nothing else running (the issue's target: 600)`,
    });
    return figures;
  } finally {
    await stop(service, bare);
    await sinks.close();
  }
}
