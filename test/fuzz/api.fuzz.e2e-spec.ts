import fc from 'fast-check';
import { call } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { OPERATORS } from '../ops/operators';
import {
  build,
  diff,
  closeDispatcher,
  Fixtures,
  allowedChange,
  isDecision,
  knownClass,
  OpenApiDocument,
  operationsOf,
  planArb,
  prepareFixtures,
  refreshApproval,
  remintCredentials,
  responseProblem,
  send,
  StateProbe,
} from './fuzz-harness';

/**
 * A fuzzer driven by the OpenAPI document (issue 14, "Bad input at scale"): for every operation,
 * generated path parameters, queries, headers, bodies and credentials, valid and broken. Every
 * answer must be a 4xx in the Error shape (or a 2xx when the input happens to be valid), never a
 * 5xx, never a hang; a rejected request must leave every table and queue as it was.
 *
 * FUZZ_RUNS sets the budget (CI: the default below; `npm run fuzz`: 100,000), FUZZ_SEED replays a
 * run (the seed is printed), FUZZ_STRICT=1 counts the known class below as failures too.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 800);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const REQUEST_TIMEOUT_MS = Number(process.env.FUZZ_REQUEST_TIMEOUT_MS ?? 10_000);
/** A fresh pending approval (and its link) this often, as the fuzzer cancels or decides the old one. */
const REFRESH_EVERY = 250;
/** Every credential is signed again this often (they live 10 minutes), so a long run never fuzzes with expired ones. */
const REMINT_MS = Number(process.env.FUZZ_REMINT_MS ?? 4 * 60_000);
/**
 * Issue 14's NUL / lone surrogate / 1e309 class reaches Postgres as a 500; the fix is on another
 * branch. Until it lands these are counted and printed, not failed; FUZZ_STRICT=1 fails them.
 */
const STRICT = process.env.FUZZ_STRICT === '1';
/** FUZZ_VERBOSE=1 prints every request and answer. */
const VERBOSE = process.env.FUZZ_VERBOSE === '1';

const out = (line: string) => process.stdout.write(`${line}\n`);

describe('the public API under fuzzed input', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let doc: OpenApiDocument;
  let fixtures: Fixtures;
  let probe: StateProbe;

  beforeAll(async () => {
    env = await testEnvironment();
    // No workers: jobs stay where a request put them, so queue contents show what a request did.
    app = await env.start({ ...OPERATORS, RUN_WORKERS: 'false', LONG_POLL_MAX_WAIT: '1', LOG_LEVEL: 'fatal' });
    doc = (await call<OpenApiDocument>(app.url, 'GET', '/docs/json')).body;
    fixtures = await prepareFixtures(app);
    probe = await StateProbe.open(env.db.url, app);
  }, 120_000);
  afterAll(async () => {
    await probe?.close();
    await closeDispatcher();
    await env?.teardown();
  });

  it(
    'answers every generated request with a 2xx or a documented 4xx, in time, and changes nothing when it refuses',
    async () => {
      const ops = operationsOf(doc);
      expect(ops.length).toBeGreaterThan(30);
      out(`fuzz: ${RUNS} inputs over ${ops.length} operations, FUZZ_SEED=${SEED}`);
      const arb = fc.oneof(...ops.map((op) => planArb(op, doc.components.schemas, fixtures.badGateway.length)));

      const problems = new Map<string, { count: number; example: string }>();
      const known = new Map<string, { count: number; example: string }>();
      const lenient = new Map<string, number>();
      const statuses = new Map<string, number>();
      let sent = 0;
      let unsendable = 0;
      let reminted = 0;
      const window: Record<string, number> = { '0xx': 0, '2xx': 0, '3xx': 0, '401': 0, '4xx': 0, '5xx': 0 };
      let slowest = { ms: 0, what: '' };
      const note = (map: Map<string, { count: number; example: string }>, key: string, example: string) => {
        const seen = map.get(key);
        if (seen) seen.count++;
        else {
          map.set(key, { count: 1, example });
          // At once too, so that a long run that dies still says what it found.
          if (map === problems || map === known) out(`fuzz: found ${map === problems ? 'PROBLEM' : 'KNOWN'} ${key}\n      e.g. ${example.slice(0, 600)}`);
        }
      };
      const timing = { build: 0, send: 0, snapshot: 0 };
      let baseline = await probe.snapshot();
      const started = Date.now();

      await fc.assert(
        fc.asyncProperty(arb, async (plan) => {
          if (Date.now() - fixtures.mintedAt >= REMINT_MS) {
            await remintCredentials(app, fixtures);
            reminted++;
            baseline = await probe.snapshot();
          } else if (sent > 0 && sent % REFRESH_EVERY === 0) {
            await refreshApproval(app, fixtures);
            baseline = await probe.snapshot();
          }
          const tb = Date.now();
          const req = build(plan, fixtures, doc.components.schemas);
          timing.build += Date.now() - tb;
          const where = `${plan.op.method} ${plan.op.path}`;
          if (VERBOSE) out(`> ${req.describe.slice(0, 240)}`);
          const ts = Date.now();
          const res = await send(app.url, req, REQUEST_TIMEOUT_MS);
          timing.send += Date.now() - ts;
          if (VERBOSE) out(`< ${JSON.stringify(res).slice(0, 240)}`);
          if ('clientError' in res) {
            unsendable++;
            return;
          }
          sent++;
          if ('status' in res) window[res.status === 401 ? '401' : `${Math.floor(res.status / 100)}xx`]++;
          if (sent % 5000 === 0) {
            // The share of 401s per window stays flat when the credentials never expire.
            const w = Object.entries(window)
              .map(([k, n]) => `${k}×${n}`)
              .join(' ');
            out(`fuzz: ${sent} sent, ${((Date.now() - started) / 1000).toFixed(0)} s, ${problems.size} problems, ${known.size} known; last 5000: ${w}`);
            for (const k of Object.keys(window)) window[k] = 0;
          }
          if ('timeout' in res) {
            note(problems, `${where}: no answer within ${REQUEST_TIMEOUT_MS} ms`, req.describe);
          } else {
            statuses.set(`${where} ${res.status}`, (statuses.get(`${where} ${res.status}`) ?? 0) + 1);
            if (res.ms > slowest.ms) slowest = { ms: res.ms, what: req.describe.slice(0, 200) };
            const problem = responseProblem(req, plan.op, res);
            const cls = res.status >= 500 ? knownClass(req) : undefined;
            if (problem && cls && !STRICT) note(known, `${where}: ${res.status} (${cls})`, req.describe);
            else if (problem) note(problems, `${where}: ${problem.split('\n')[0].slice(0, 100)}`, req.describe);
            if (req.lenient && res.status < 400) lenient.set(req.lenient, (lenient.get(req.lenient) ?? 0) + 1);
          }
          const t0 = Date.now();
          const after = await probe.snapshot();
          timing.snapshot += Date.now() - t0;
          if ('timeout' in res || ((res.status >= 400 || res.status === 0) && !isDecision(res))) {
            const changed = 'timeout' in res ? diff(baseline, after) : diff(baseline, after, (t, b, a) => allowedChange(plan.op, res, t, b, a));
            if (changed.length) note(problems, `${where}: a refused request changed ${changed.join('; ')}`, req.describe);
          }
          baseline = after;
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );

      const seconds = (Date.now() - started) / 1000;
      out(`fuzz: ${sent} requests (${unsendable} not sendable by the client) in ${seconds.toFixed(1)} s, ${(sent / seconds).toFixed(0)}/s, FUZZ_SEED=${SEED}`);
      out(`fuzz: credentials signed again ${reminted} times (every ${REMINT_MS / 1000} s)`);
      out(
        `fuzz: time spent building ${(timing.build / 1000).toFixed(1)} s, sending ${(timing.send / 1000).toFixed(1)} s, reading state ${(timing.snapshot / 1000).toFixed(1)} s`,
      );
      out(`fuzz: slowest answer ${slowest.ms} ms: ${slowest.what}`);
      const byStatus = new Map<string, number>();
      for (const [k, n] of statuses) byStatus.set(k.split(' ').pop()!, (byStatus.get(k.split(' ').pop()!) ?? 0) + n);
      out(
        `fuzz: statuses ${[...byStatus]
          .sort()
          .map(([s, n]) => `${s}×${n}`)
          .join(' ')}`,
      );
      for (const [kind, n] of lenient) out(`fuzz: accepted ${n}× a token that should be refused (known, issue 14): ${kind}`);
      for (const [what, { count, example }] of known) out(`fuzz: KNOWN ${count}× ${what}\n      e.g. ${example}`);
      for (const [what, { count, example }] of [...problems].slice(0, 40)) out(`fuzz: PROBLEM ${count}× ${what}\n      e.g. ${example.slice(0, 600)}`);
      expect([...problems.keys()]).toEqual([]);
    },
    120_000 + RUNS * 200,
  );
});
