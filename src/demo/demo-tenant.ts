/**
 * What the demo sets up in tenant "acme" through the API, as its administrator and identity
 * provider would, and the gateway's configuration. Used by `npm run demo` (run-demo.ts) and by the
 * compose services (compose.ts). Demo mode itself puts the approvers (alice, bob, carol, dave) and
 * the groups (finance, security) in the directory.
 */
import { mintDevToken } from '../cli/dev-tokens';
import { STARTER_POLICIES } from '../authz/policy/starter-policies';

export const TENANT = 'acme';
export const HUMAN = 'alice';
export const AGENT = 'finance-assistant';
/** Everything the sample servers offer except files/share_file. */
export const DELEGATED_TOOLS = ['crm/lookup_customer', 'calendar/list_events', 'calendar/create_event', 'files/read_file', 'payments/transfer_funds'];
export const SAMPLE_SERVER_NAMES = ['payments', 'calendar', 'crm', 'files'];

type Env = Record<string, string | undefined>;

/** The agent's token: alice's authority, acted on by the finance assistant. */
export const demoAgentToken = (env: Env) =>
  mintDevToken({ tenant: TENANT, sub: HUMAN, agentChain: [AGENT], human: HUMAN, agentClass: AGENT, ttlSeconds: 3600 }, env);

async function post(url: string, token: string, body: unknown, what: string): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${what} failed: ${res.status} ${await res.text()}`);
}

/**
 * alice's delegation to the agent and the demo policy set, through the API; returns the gateway's
 * credentials (the admin one lets it register the sample tools in the catalogue). The keys must
 * exist (the service in demo mode creates them in KEYS_DIR).
 */
export async function prepareDemoTenant(api: string, env: Env): Promise<{ gatewayToken: string; adminToken: string }> {
  const [gatewayToken, adminToken, idpToken] = await Promise.all([
    mintDevToken({ tenant: TENANT, sub: 'mcp-gateway', ttlSeconds: 86400 }, env),
    mintDevToken({ tenant: TENANT, sub: 'mcp-gateway', scope: 'countersign:admin', ttlSeconds: 86400 }, env),
    mintDevToken({ tenant: TENANT, sub: 'demo-idp', scope: 'countersign:delegations', ttlSeconds: 600 }, env),
  ]);
  await post(
    `${api}/v1/delegations`,
    idpToken,
    { human: HUMAN, agent: AGENT, tools: DELEGATED_TOOLS, purpose: 'Pay supplier invoices and keep the calendar' },
    'granting the delegation',
  );
  await post(
    `${api}/v1/policies`,
    adminToken,
    { policies: STARTER_POLICIES, activate: true, description: 'npm run demo: the starter set' },
    'publishing the demo policy set',
  );
  return { gatewayToken, adminToken };
}

/** The gateway's configuration for the sample servers at `${upstreamBase}/<server>/mcp`. */
export function demoGatewayConfig(o: {
  api: string;
  issuer: string;
  gatewayToken: string;
  adminToken: string;
  upstreamBase: string;
  listen: { host: string; port: number; public_url?: string; allowed_hosts?: string[] };
}): Record<string, unknown> {
  const url = (s: string) => `${o.upstreamBase}/${s}/mcp`;
  const file = { resource: { id_argument: 'path', type: 'file', classification: 'internal' } };
  return {
    listen: o.listen,
    countersign: { url: o.api, token: o.gatewayToken, admin_token: o.adminToken, issuer: o.issuer },
    upstreams: [
      { name: 'payments', url: url('payments'), environment: 'production', tools: { transfer_funds: { intent_category: 'pay' } } },
      { name: 'calendar', url: url('calendar') },
      { name: 'crm', url: url('crm'), tools: { lookup_customer: { resource: { type: 'customer', classification: 'internal' } } } },
      { name: 'files', url: url('files'), tools: { read_file: file, share_file: file } },
    ],
    approval: { wait_seconds: 30, progress_interval_seconds: 2 },
    log_level: 'info',
  };
}
