/**
 * The gateway's configuration: one JSON file (GATEWAY_CONFIG), validated at start-up. Every
 * problem is reported with the path of its field, so a bad file is fixed in one pass.
 */
import { readFileSync } from 'node:fs';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { NAMINGS } from './tool-names';

/**
 * An upstream's name is the prefix of its tools' names as agents see them (`<server>__<tool>`)
 * and Countersign's `action.server`: no "__" inside it, so that the split is unambiguous.
 */
export const UPSTREAM_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]|_(?!_|$)){0,63}$/;
const CLASSIFICATIONS = ['public', 'internal', 'confidential', 'restricted', 'pii'] as const;
const ENVIRONMENTS = ['dev', 'staging', 'production'] as const;
export const INTENT_CATEGORIES = ['read', 'search', 'summarize', 'export', 'write', 'delete', 'pay', 'admin', 'other'] as const;

const httpUrl = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' });

/** What the gateway tells Countersign about one tool's calls, beyond the call itself. */
const toolHints = z.strictObject({
  resource: z
    .strictObject({
      /** The argument whose value is the resource id (e.g. "account"); a dotted path reaches into objects. */
      id_argument: z.string().min(1).optional(),
      /** A fixed resource id, when the tool always acts on one resource. */
      id: z.string().min(1).max(512).optional(),
      type: z.string().min(1).max(512).optional(),
      classification: z.enum(CLASSIFICATIONS).optional(),
    })
    .refine((r) => !(r.id && r.id_argument), { message: 'give id or id_argument, not both' })
    .optional(),
  environment: z.enum(ENVIRONMENTS).optional(),
  /** The intent sent when the agent states none (`_meta["io.countersign/intent"]`). */
  intent_category: z.enum(INTENT_CATEGORIES).optional(),
  /**
   * The argument holding the call's justification (e.g. a payment's "memo"; a dotted path reaches
   * into objects): sent as the agent's reason when it states none in `_meta["io.countersign/reason"]`.
   */
  reason_argument: z.string().min(1).max(512).optional(),
});

const upstream = z
  .strictObject({
    name: z
      .string()
      .regex(UPSTREAM_NAME, { message: 'must be 1-64 letters, digits, ".", "-" or "_" (no "__" and no "_" at the end: "__" separates server and tool)' }),
    /** A Streamable HTTP server… */
    url: httpUrl.optional(),
    /** …or a stdio server the gateway starts: command, args, and environment added to the SDK's safe default. */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().min(1).optional(),
    /** The environment of every call to this server, unless a tool says otherwise. */
    environment: z.enum(ENVIRONMENTS).optional(),
    /** Per-tool hints, by the upstream's own tool name. */
    tools: z.record(z.string(), toolHints).default({}),
  })
  .refine((u) => Boolean(u.url) !== Boolean(u.command), { message: 'give url (Streamable HTTP) or command (stdio), exactly one', path: ['url'] });

export const gatewayConfigSchema = z
  .strictObject({
    /** Where agents connect. */
    listen: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.int().min(0).max(65535).default(8787),
        /** The gateway's public base URL (its RFC 9728 `resource` is this + "/mcp"); default http://host:port. */
        public_url: httpUrl.optional(),
        /** Host headers the MCP endpoint answers (DNS rebinding); default the public URL's, and localhost's on a loopback address. */
        allowed_hosts: z.array(z.string().min(1)).min(1).optional(),
        /** Origin headers it answers when a request has one; default the public URL's origin. */
        allowed_origins: z.array(z.string().min(1)).min(1).optional(),
      })
      .default({ host: '127.0.0.1', port: 8787 }),
    countersign: z
      .strictObject({
        url: httpUrl,
        /** The gateway's bearer token for /v1/authorize and /v1/approvals (a tenant-scoped gateway token). */
        token: z.string().min(1).optional(),
        /** Or a file holding it (read again whenever it changes, so a short-lived token can be rotated in place). */
        token_file: z.string().min(1).optional(),
        /** An admin-scoped token (countersign:admin) to register upstream tools in the catalogue; none: not registered. */
        admin_token: z.string().min(1).optional(),
        /** Or a file holding it (read again whenever it changes). */
        admin_token_file: z.string().min(1).optional(),
        /** Approval tokens' issuer (the service's PUBLIC_URL); default: `url`. */
        issuer: httpUrl.optional(),
        /** Approval tokens' audience: this gateway's id as Countersign knows it; default: the token's azp, client_id or sub. */
        gateway_id: z.string().min(1).optional(),
        /** Per request to Countersign, milliseconds. */
        timeout_ms: z.int().min(100).max(120_000).default(10_000),
      })
      .refine((c) => Boolean(c.token) !== Boolean(c.token_file), { message: 'give token or token_file (exactly one)', path: ['token'] })
      .refine((c) => !(c.admin_token && c.admin_token_file), { message: 'give admin_token or admin_token_file, not both', path: ['admin_token'] }),
    /** Agents' tokens must name one of these audiences. */
    agent_audiences: z.array(z.string().min(1)).min(1).default(['countersign']),
    /**
     * The issuers of agents' tokens and their keys: when given, the gateway verifies every bearer
     * (signature, iss, aud, exp) before it answers anything; without, it checks aud and exp only and
     * Countersign verifies the token on every tools/call.
     */
    agent_issuers: z
      .array(
        z
          .strictObject({ issuer: z.string().min(1), jwks_uri: httpUrl.optional(), jwks_file: z.string().min(1).optional() })
          .refine((i) => Boolean(i.jwks_uri) !== Boolean(i.jwks_file), { message: 'give jwks_uri or jwks_file (exactly one)', path: ['jwks_uri'] }),
      )
      .default([]),
    upstreams: z
      .array(upstream)
      .min(1, { message: 'must name at least one upstream MCP server' })
      .refine((u) => new Set(u.map((s) => s.name)).size === u.length, { message: 'must not name a server twice' }),
    /**
     * How agents see upstream tools and prompts: "namespaced" `<server>__<tool>`, or "plain" (the
     * upstream's own names; refused while two upstreams offer the same name). Policies see server and tool either way.
     */
    tool_names: z.enum(NAMINGS).default('namespaced'),
    approval: z
      .strictObject({
        /** How long one tools/call is held while its approval is pending: keep it below the agents' request timeout (60 s by default in the SDK). */
        wait_seconds: z.int().min(0).max(600).default(45),
        /** Progress notifications while waiting, every this many seconds (when the client sent a progressToken). */
        progress_interval_seconds: z.int().min(1).max(60).default(5),
      })
      .default({ wait_seconds: 45, progress_interval_seconds: 5 }),
    /**
     * Where parked calls, used approval tokens and MCP tasks are kept. Without redis_url: in this
     * process (a retry must come back to this instance, in the same session). With it: in Redis,
     * shared by every instance using the same key_prefix, so that a retry, tasks/get, tasks/result
     * or tasks/cancel may land on any instance, or on this one after a restart.
     */
    state: z
      .strictObject({
        redis_url: z.url({ protocol: /^rediss?$/, message: 'must be a redis:// or rediss:// URL' }).optional(),
        key_prefix: z
          .string()
          .regex(/^[A-Za-z0-9._:-]{1,64}$/, { message: 'must be 1-64 letters, digits, ".", "_", ":" or "-"' })
          .default('countersign-gateway'),
      })
      .default({ key_prefix: 'countersign-gateway' }),
    /**
     * Leave out of tools/list the tools Countersign says this agent can never be allowed to call
     * (outside its delegations or the human's entitlements, outside the catalogue). A convenience:
     * a hidden tool called anyway is decided as any other call.
     */
    hide_denied_tools: z.boolean().default(false),
    /** How long what an agent may call is remembered, per agent. */
    hide_denied_tools_cache_seconds: z.int().min(0).max(3600).default(30),
    /** A bearer token for GET /metrics (Prometheus); none: /metrics is not served. */
    metrics_token: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
    /** An MCP session unused this long is closed (its parked calls' approval requests are cancelled). */
    session_idle_seconds: z
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .default(1800),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((c, ctx) => {
    if (c.tool_names === 'plain') {
      // Hints for one tool name under two upstreams: with plain names that name could reach either.
      const seen = new Map<string, string>();
      c.upstreams.forEach((u, i) => {
        for (const tool of Object.keys(u.tools)) {
          const other = seen.get(tool);
          if (other)
            ctx.addIssue({
              code: 'custom',
              path: ['upstreams', i, 'tools', tool],
              message: `is also configured for ${other}: with tool_names "plain" a tool name must belong to one upstream`,
            });
          else seen.set(tool, u.name);
        }
      });
    }
    // A call parked in one session is resumed from another only for the same agent: the gateway
    // must then know who the agent is, not merely read it from an unverified token.
    if (c.state.redis_url && !c.agent_issuers.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['state', 'redis_url'],
        message: 'needs agent_issuers: shared parked calls and tasks are resumed by agent identity, which the gateway must verify itself',
      });
    }
    if (c.countersign.token && !gatewayIdOf(c.countersign.token) && !c.countersign.gateway_id) {
      ctx.addIssue({ code: 'custom', path: ['countersign', 'token'], message: 'must be a JWT with azp, client_id or sub (or set countersign.gateway_id)' });
    }
  });

export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type ToolHints = z.output<typeof toolHints>;

export class GatewayConfigError extends Error {
  constructor(readonly problems: { field: string; message: string }[]) {
    super(`invalid gateway configuration:\n${problems.map((p) => `  ${p.field}: ${p.message}`).join('\n')}`);
  }
}

/** Validates a configuration object; throws GatewayConfigError naming every bad field. */
export function parseGatewayConfig(input: unknown): GatewayConfig {
  const parsed = gatewayConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new GatewayConfigError(parsed.error.issues.map((i) => ({ field: i.path.map(String).join('.') || '(root)', message: i.message })));
  }
  const config = parsed.data;
  if (config.countersign.token_file) {
    const token = readTokenFile(config.countersign.token_file, 'countersign.token_file');
    if (!config.countersign.gateway_id && !gatewayIdOf(token)) {
      throw new GatewayConfigError([
        { field: 'countersign.token_file', message: 'must hold a JWT with azp, client_id or sub (or set countersign.gateway_id)' },
      ]);
    }
    config.countersign.token = token;
  }
  if (config.countersign.admin_token_file) {
    config.countersign.admin_token = readTokenFile(config.countersign.admin_token_file, 'countersign.admin_token_file');
  }
  return config;
}

function readTokenFile(path: string, field: string): string {
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new GatewayConfigError([{ field, message: `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})` }]);
  }
  if (!token) throw new GatewayConfigError([{ field, message: 'is empty' }]);
  return token;
}

/** Reads and validates the file at `path`. */
export function loadGatewayConfig(path: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new GatewayConfigError([{ field: 'GATEWAY_CONFIG', message: `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})` }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new GatewayConfigError([{ field: 'GATEWAY_CONFIG', message: `${path} is not JSON (${(e as Error).message})` }]);
  }
  return parseGatewayConfig(json);
}

/** Who Countersign takes the gateway to be (its GatewayTokenVerifier's rule): azp, client_id or sub. */
export function gatewayIdOf(token: string): string | undefined {
  try {
    const claims = decodeJwt(token);
    return [claims.azp, claims.client_id, claims.sub].find((v): v is string => typeof v === 'string' && v.length > 0);
  } catch {
    return undefined;
  }
}
