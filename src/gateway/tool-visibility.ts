/**
 * Which tools an agent sees in tools/list. With `hide_denied_tools`, the tools Countersign says
 * this agent can never be allowed to call (POST /v1/authorize/tools: outside its delegations or its
 * human's entitlements, outside the catalogue, a disabled human) are left out. Only a convenience
 * for the model: a hidden tool called anyway is decided by Countersign like any other call. The
 * answer is kept per agent token for `hide_denied_tools_cache_seconds`; when Countersign cannot be
 * asked, every tool is shown (its calls still fail closed).
 */
import { createHash } from 'node:crypto';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { CountersignClient } from './countersign-client';
import type { GatewayConfig } from './gateway-config';

/** Beyond this many agents remembered, the cache starts over (a bound, not a policy). */
const MAX_AGENTS_CACHED = 10_000;

export class ToolVisibility {
  /** sha256(agent token) → the tools always denied to it ("server\ntool"), and until when that holds. */
  private readonly cache = new Map<string, { until: number; asked: Set<string>; denied: Set<string> }>();

  constructor(
    private readonly config: Pick<GatewayConfig, 'hide_denied_tools' | 'hide_denied_tools_cache_seconds'>,
    private readonly countersign: CountersignClient,
    /** How an agent-facing tool name maps to the upstream's server and tool (tool-names.ts). */
    private readonly split: (name: string) => { server: string; tool: string } | undefined,
    private readonly log: Logger,
  ) {}

  async visible(tools: Tool[], agentToken: string): Promise<Tool[]> {
    if (!this.config.hide_denied_tools || tools.length === 0) return tools;
    const targets = tools.map((t) => this.split(t.name));
    const denied = await this.alwaysDenied(
      agentToken,
      targets.filter((t): t is { server: string; tool: string } => t !== undefined),
    );
    if (!denied) return tools;
    return tools.filter((_, i) => !(targets[i] && denied.has(id(targets[i]))));
  }

  private async alwaysDenied(agentToken: string, targets: { server: string; tool: string }[]): Promise<Set<string> | undefined> {
    const key = createHash('sha256').update(agentToken).digest('base64url');
    const cached = this.cache.get(key);
    if (cached && cached.until > Date.now() && targets.every((t) => cached.asked.has(id(t)))) return cached.denied;
    let answer;
    try {
      answer = await this.countersign.callableTools(agentToken, targets);
    } catch (e) {
      this.log.warn({ err: String(e) }, 'could not ask Countersign which tools the agent may call; listing them all');
      return undefined;
    }
    const denied = new Set(answer.filter((t) => t.always_denied).map(id));
    if (this.cache.size >= MAX_AGENTS_CACHED) this.cache.clear();
    this.cache.set(key, { until: Date.now() + this.config.hide_denied_tools_cache_seconds * 1000, asked: new Set(targets.map(id)), denied });
    return denied;
  }
}

function id(t: { server: string; tool: string }): string {
  return `${t.server}\n${t.tool}`;
}
