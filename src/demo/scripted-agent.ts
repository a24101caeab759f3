/**
 * The demo's agent: an MCP client (the official SDK's Client) that connects to the gateway with
 * its agent token and works through a small task, printing what happens at each step: an allowed
 * call, a denied call, and a call that needs a person's approval (it waits, retrying the same call
 * as the gateway asks, until the approvers decide).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

const META_KEY = 'io.countersign/decision';
/** Where the agent states why it makes a call and what it is doing (the gateway sends them to Countersign). */
const REASON_KEY = 'io.countersign/reason';
const INTENT_KEY = 'io.countersign/intent';

/** What the agent says about a call: its reason for access (approvers read it) and its intent. */
interface Statement {
  reason: string;
  intent: { category: string; text: string };
}

export interface ScriptedAgentOptions {
  /** The gateway's MCP endpoint, e.g. http://127.0.0.1:8787/mcp */
  gatewayUrl: string;
  agentToken: string;
  print(line: string): void;
  /** How long to keep retrying a call that awaits approval (the approval request's own expiry ends it sooner). */
  approvalTimeoutMs?: number;
}

export interface StepOutcome {
  step: string;
  tool: string;
  verdict: 'allowed' | 'denied' | 'approved' | 'not approved' | 'error';
  text: string;
}

const textOf = (r: CallToolResult) =>
  r.content
    .filter((c): c is { type: 'text'; text: string } => c.type === 'text')
    .map((c) => c.text)
    .join('\n');
const metaOf = (r: CallToolResult) =>
  (r._meta?.[META_KEY] ?? {}) as { verdict?: string; reasons?: string[]; status?: string; auth_req_id?: string; approvers?: string[]; expires_in?: number };
const indent = (text: string) => text.replace(/^/gm, '      ');

export async function runScriptedAgent(options: ScriptedAgentOptions): Promise<StepOutcome[]> {
  const { print } = options;
  const client = new Client({ name: 'countersign-demo-agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(options.gatewayUrl), { requestInit: { headers: { authorization: `Bearer ${options.agentToken}` } } }),
  );
  const outcomes: StepOutcome[] = [];
  try {
    const { tools } = await client.listTools();
    print(`agent  connected to ${options.gatewayUrl}; tools offered: ${tools.map((t) => t.name).join(', ')}`);

    // 1. Allowed: a read the delegation covers.
    outcomes.push(
      await step(
        client,
        print,
        '1',
        'Look up the customer (a read, delegated)',
        'crm__lookup_customer',
        { query: 'ACME GmbH' },
        {
          reason: 'Find the bank details for invoice INV-42',
          intent: { category: 'read', text: 'look up the supplier ACME GmbH' },
        },
      ),
    );

    // 2. Denied: sharing a file outside the company was never delegated to this agent.
    outcomes.push(
      await step(
        client,
        print,
        '2',
        'Share the invoice with an outside address (not delegated)',
        'files__share_file',
        { path: '/invoices/INV-42.pdf', with: 'someone@gmail.example', permission: 'view' },
        { reason: 'Send a copy of INV-42 to the accountant', intent: { category: 'export', text: 'share the invoice' } },
      ),
    );

    // 3. Needs approval: a payment of 10,000 or more (the starter policy: the delegator or finance approves).
    outcomes.push(
      await step(
        client,
        print,
        '3',
        'Pay invoice INV-42: 25,000 EUR (a payment at or above 10,000 needs a person)',
        'payments__transfer_funds',
        { amount: 25000, currency: 'EUR', to: { iban: 'DE89370400440532013000', name: 'ACME GmbH' }, memo: 'INV-42' },
        // The starter set asks a person about this payment only when the agent says why (reason_required).
        { reason: 'Invoice INV-42 from ACME GmbH (25,000 EUR) is due today', intent: { category: 'pay', text: 'pay supplier invoice INV-42' } },
        options.approvalTimeoutMs ?? 15 * 60_000,
      ),
    );
  } finally {
    await client.close().catch(() => undefined);
  }
  return outcomes;
}

async function step(
  client: Client,
  print: (line: string) => void,
  n: string,
  title: string,
  tool: string,
  args: Record<string, unknown>,
  statement: Statement,
  approvalTimeoutMs = 0,
): Promise<StepOutcome> {
  print('');
  print(`step ${n}  ${title}`);
  print(`  call   ${tool} ${JSON.stringify(args)}`);
  print(`  reason ${statement.reason} (intent: ${statement.intent.category})`);
  const giveUpAt = Date.now() + approvalTimeoutMs;
  let waitingShown = false;
  let lastProgress = '';
  for (let attempt = 1; ; attempt++) {
    let result: CallToolResult;
    try {
      // The statement rides in _meta: for Countersign and the approvers, never for the upstream.
      const _meta = { [REASON_KEY]: statement.reason, [INTENT_KEY]: statement.intent };
      result = (await client.callTool({ name: tool, arguments: args, _meta }, undefined, {
        timeout: 60_000,
        onprogress: (p: { message?: string }) => {
          if (!p.message || p.message === lastProgress) return;
          // The first notification says who must approve; later ones only count down.
          if (!waitingShown) print(`  wait   ${p.message}`);
          waitingShown = true;
          lastProgress = p.message;
        },
      })) as CallToolResult;
    } catch (e) {
      print(`  error  ${(e as Error).message}`);
      return { step: n, tool, verdict: 'error', text: (e as Error).message };
    }
    const meta = metaOf(result);
    if (!result.isError) {
      const verdict = waitingShown ? 'approved' : 'allowed';
      print(`  ${verdict === 'approved' ? 'APPROVED, resumed and sent upstream' : 'ALLOWED'}; result:`);
      print(indent(textOf(result)));
      return { step: n, tool, verdict, text: textOf(result) };
    }
    if (meta.verdict === 'deny') {
      print(`  DENIED  reasons: ${(meta.reasons ?? []).join(', ') || 'none given'}; the upstream never saw the call`);
      print(indent(textOf(result)));
      return { step: n, tool, verdict: 'denied', text: textOf(result) };
    }
    if (meta.status === 'pending' && Date.now() < giveUpAt) {
      // The gateway held the call as long as it may; the same call again resumes the same request.
      if (!waitingShown) print(`  wait   awaits approval by ${(meta.approvers ?? []).join(', ')} (auth_req_id ${meta.auth_req_id})`);
      waitingShown = true;
      print(`  wait   still pending (${meta.expires_in ?? '?'} s left); retrying the same call (attempt ${attempt + 1})`);
      continue;
    }
    print(`  NOT APPROVED (${meta.status ?? 'error'})`);
    print(indent(textOf(result)));
    return { step: n, tool, verdict: meta.status === 'pending' ? 'error' : 'not approved', text: textOf(result) };
  }
}
