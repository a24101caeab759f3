/**
 * Is the gateway transparent for what policy allows? The official MCP conformance suite
 * (`@modelcontextprotocol/conformance`, its own runner as a child process) runs its server
 * scenarios against the suite's reference server directly, and against the gateway in front of
 * that server under an allow-all policy (`permit (principal, action, resource);`, tools
 * registered in the catalogue, alice delegating reference/* to the agent). Every scenario passing directly must pass through the gateway,
 * except the KNOWN_GAPS below, each of which must still fail (so a fix shows up as a stale entry).
 *
 * The gaps are real findings, not test artefacts: the gateway renames tools `<server>__<tool>`,
 * so every scenario that calls a reference tool by its own name gets "Unknown tool"; it serves
 * tools only (no logging, completion, resources, prompts); it does not check Host/Origin. A
 * second run with the relay prefixing tool names (diagnostics) separates the name from the
 * forwarding: results come back unchanged (text, image, audio, resources, errors), but the
 * upstream's progress notifications and its sampling/elicitation requests do not reach the client.
 *
 * The runner cannot send headers, so a bearer relay (test/support/conformance/auth-proxy.ts)
 * adds the agent token in front of the gateway and changes nothing else.
 * Default: a subset (about a minute); `npm run conformance` runs every server scenario.
 */
import { parseGatewayConfig } from '../../src/gateway/gateway-config';
import { RunningGateway, startGateway } from '../../src/gateway/gateway';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { agentToken, gatewayToken } from '../support/keys';
import { startBearerRelay } from '../support/conformance/auth-proxy';
import { startEverythingServer } from '../support/conformance/everything-server';
import { listServerScenarios, runServerScenarios, ScenarioResult } from '../support/conformance/suite';

const NAMESPACING = 'calls a tool by the upstream\'s name; the gateway lists and accepts it only as reference__<tool> ("Unknown tool")';
const TOOLS_ONLY = 'the gateway serves tools (and tasks) only: this method is "Method not found" through it';
/** Scenarios the reference server passes and the gateway does not, and why (measured 2026-12-04, suite 0.1.16). */
const KNOWN_GAPS: Record<string, string> = {
  'tools-call-simple-text': NAMESPACING,
  'tools-call-image': NAMESPACING,
  'tools-call-audio': NAMESPACING,
  'tools-call-embedded-resource': NAMESPACING,
  'tools-call-mixed-content': NAMESPACING,
  'tools-call-error': NAMESPACING,
  'tools-call-with-progress': NAMESPACING,
  'tools-call-sampling': NAMESPACING,
  'tools-call-elicitation': NAMESPACING,
  'json-schema-2020-12': `${NAMESPACING}; it looks json_schema_2020_12_tool up in tools/list`,
  'elicitation-sep1034-defaults': NAMESPACING,
  'elicitation-sep1330-enums': NAMESPACING,
  'logging-set-level': `${TOOLS_ONLY} (logging/setLevel)`,
  'tools-call-with-logging': `${TOOLS_ONLY} (logging/setLevel)`,
  'completion-complete': TOOLS_ONLY,
  'resources-list': TOOLS_ONLY,
  'resources-read-text': TOOLS_ONLY,
  'resources-read-binary': TOOLS_ONLY,
  'resources-templates-read': TOOLS_ONLY,
  'resources-subscribe': TOOLS_ONLY,
  'resources-unsubscribe': TOOLS_ONLY,
  'prompts-list': TOOLS_ONLY,
  'prompts-get-simple': TOOLS_ONLY,
  'prompts-get-with-args': TOOLS_ONLY,
  'prompts-get-embedded-resource': TOOLS_ONLY,
  'prompts-get-with-image': TOOLS_ONLY,
};
/**
 * Of the NAMESPACING gaps, those that still fail when the relay prefixes the tool name: the
 * gateway forwards the call and returns the upstream's result, but relays nothing the upstream
 * sends the client meanwhile (measured as above).
 */
const FORWARDING_GAPS: Record<string, string> = {
  'tools-call-with-progress': "the upstream's progress notifications are not relayed to the client",
  'tools-call-sampling': "the upstream's sampling/createMessage request is not relayed to the client",
  'tools-call-elicitation': "the upstream's elicitation/create request is not relayed to the client",
  'elicitation-sep1034-defaults': "the upstream's elicitation/create request is not relayed to the client",
  'elicitation-sep1330-enums': "the upstream's elicitation/create request is not relayed to the client",
};
/** The default subset: the lifecycle, tools/list, content forwarding, a gap of each kind, and the rebinding probe. */
const SUBSET = ['server-initialize', 'ping', 'tools-list', 'server-sse-multiple-streams', 'tools-call-simple-text', 'tools-call-image', 'tools-call-with-progress', 'resources-list', 'dns-rebinding-protection'];

const passing = (results: ScenarioResult[]) => results.filter((r) => r.passed).map((r) => r.scenario);

describe('the MCP conformance suite through the gateway (allow-all policy)', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let reference: { url: string; close(): Promise<void> };
  let gateway: RunningGateway;
  let relay: { url: string; close(): Promise<void> };
  let renaming: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    jest.spyOn(console, 'log').mockImplementation(() => undefined); // the reference server logs every session
    env = await testEnvironment();
    api = await env.start();
    reference = await startEverythingServer();
    const published = await call(api.url, 'POST', '/v1/policies', { token: await adminToken(), body: { policies: { 'allow-all': 'permit (principal, action, resource);' }, activate: true } });
    expect(published.status).toBe(201);
    // Countersign also requires a delegation (human → agent) besides policy: alice grants every reference tool.
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    const granted = await call(api.url, 'POST', '/v1/delegations', { token: delegations, body: { human: 'alice', agent: 'conformance-agent', tools: ['reference/*'] } });
    expect(granted.status).toBe(201);
    gateway = await startGateway(
      parseGatewayConfig({
        listen: { host: '127.0.0.1', port: 0 },
        // admin_token: the gateway registers the reference tools, so the catalogue does not deny them.
        countersign: { url: api.url, token: await tenantToken('acme', 'gateway-mcp'), admin_token: await adminToken(), issuer: api.config.PUBLIC_URL },
        upstreams: [{ name: 'reference', url: reference.url }],
        log_level: 'silent',
      }),
    );
    const token = await agentToken({ human: 'alice', actors: ['conformance-agent'] });
    relay = await startBearerRelay(gateway.resource, token);
    renaming = await startBearerRelay(gateway.resource, token, { toolPrefix: 'reference__' });
  });
  afterAll(async () => {
    await relay?.close();
    await renaming?.close();
    await gateway?.close();
    await reference?.close();
    await env?.teardown();
  }, 60_000);

  it('passes, through the gateway, every scenario the reference server passes, except the known gaps', async () => {
    const scenarios = process.env.CONFORMANCE_SCENARIOS === 'all' ? await listServerScenarios() : SUBSET;
    const direct = await runServerScenarios(reference.url, scenarios);
    const viaGateway = await runServerScenarios(relay.url, scenarios);
    const directPass = passing(direct);
    const gatewayPass = passing(viaGateway);
    const report = [
      `conformance server scenarios (${scenarios.length}):`,
      `  pass directly (${directPass.length}): ${directPass.join(', ')}`,
      `  pass through the gateway (${gatewayPass.length}): ${gatewayPass.join(', ')}`,
      ...viaGateway.filter((r) => !r.passed && directPass.includes(r.scenario)).map((r) => `  gateway only fails ${r.scenario}: ${KNOWN_GAPS[r.scenario] ?? 'NEW'} | ${r.failures.join('; ')}`),
    ].join('\n');
    process.stdout.write(`${report}\n`);

    // The reference server passes what it should (else the comparison proves nothing).
    expect(directPass).toEqual(expect.arrayContaining(['server-initialize', 'tools-list', 'tools-call-simple-text']));
    // Transparent: nothing passing directly fails through the gateway unless it is a known gap…
    const regressions = directPass.filter((s) => !gatewayPass.includes(s) && !KNOWN_GAPS[s]);
    expect(regressions).toEqual([]);
    // …and every known gap still fails (a fixed one must leave KNOWN_GAPS and the README).
    const stale = gatewayPass.filter((s) => KNOWN_GAPS[s]);
    expect(stale).toEqual([]);
  }, 600_000);

  it('with the relay adding the reference__ prefix, the namespacing gaps pass except those needing upstream-to-client messages', async () => {
    const all = process.env.CONFORMANCE_SCENARIOS === 'all' ? await listServerScenarios() : SUBSET;
    const scenarios = all.filter((s) => KNOWN_GAPS[s] === NAMESPACING);
    const results = await runServerScenarios(renaming.url, scenarios);
    process.stdout.write(
      [`namespacing gaps with the tool name prefixed by the relay (${scenarios.length}):`, ...results.map((r) => `  ${r.passed ? 'pass' : 'FAIL'} ${r.scenario}${r.passed ? '' : ` | ${r.failures.join('; ')}`}`)].join('\n') + '\n',
    );
    expect(results.filter((r) => !r.passed).map((r) => r.scenario)).toEqual(scenarios.filter((s) => FORWARDING_GAPS[s]));
  }, 600_000);
});
