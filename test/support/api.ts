import { gatewayToken } from './keys';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small JSON client over real HTTP. */
export async function call<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) {
    body = options.rawBody;
    headers['content-type'] ??= 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(baseUrl + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

/** A valid park request body; override any part. */
export function parkBody(overrides: Record<string, any> = {}): Record<string, any> {
  return {
    tool_call: { server: 'payments-mcp', tool: 'transfer_funds', arguments: { amount: 25000, currency: 'EUR', to: 'DE89370400440532013000' } },
    agent: {
      id: 'spiffe://acme.example/agents/payment-agent',
      class: 'payment-agent',
      trust_level: 'first_party_certified',
      claims: { act: { sub: 'spiffe://acme.example/agents/orchestrator' } },
    },
    delegator: { id: 'alice', delegation_id: 'dlg-1' },
    intent: { id: 'task-42', text: 'pay the quarterly invoice', category: 'pay' },
    resource: { id: 'acct-7', type: 'bank_account', classification: 'confidential' },
    environment: 'production',
    reason: 'Invoice INV-2026-0042 is due today',
    obligation: { approvers: ['user:bob', 'user:carol'], quorum: 1, binding_message: 'Pay 25,000 EUR to ACME GmbH' },
    correlation: { mcp_session_id: 'mcp-sess-1', a2a_interaction_id: 'a2a-1', request_id: 'req-1' },
    ...overrides,
  };
}

export async function tenantToken(tenant = 'acme', sub = 'gateway-1'): Promise<string> {
  return gatewayToken({ tenant, sub });
}

/** A gateway token with the admin scope (or another scope), as an identity provider's admin client gets it. */
export async function adminToken(tenant = 'acme', scope = 'countersign:admin', sub = 'idp'): Promise<string> {
  return gatewayToken({ tenant, sub, scope });
}
