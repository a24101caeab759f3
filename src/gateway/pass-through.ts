/**
 * What the gateway passes through besides tools, in one agent session: resources (list,
 * templates, read, subscribe), prompts (list, get), completion. Prompts are named like tools
 * (tool_names); resources keep their URIs (other results and resources link to them by URI),
 * and a URI goes to the one upstream that lists it or whose template matches it: one that two
 * upstreams claim is refused, never guessed. A resources/read is evaluated by Countersign first
 * (ToolCallGate.evaluateRead) and nothing is read unless it allows; listings, prompts and
 * completions are not evaluated (README: "What passes through").
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import {
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Prompt, Resource, ResourceTemplate, ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { SessionUpstreams } from './session-upstreams';
import type { ToolCallGate } from './tool-call-gate';
import { collisionMessage, NameTable, Naming, splitToolName } from './tool-names';
import { UpstreamFailure } from './upstreams';

/** The capabilities the gateway declares to agents for what it passes through. */
export const PASS_THROUGH_CAPABILITIES = { resources: { subscribe: true, listChanged: true }, prompts: { listChanged: true }, completions: {} } as const;

interface Listed<T> {
  server: string;
  items: T[];
}

export function servePassThrough(agent: Server, relay: SessionUpstreams, deps: { servers: string[]; naming: Naming; gate: ToolCallGate; log: Logger }): void {
  const { servers, naming, gate, log } = deps;
  /** What each upstream listed last in this session: the routes for URIs and prompt names. */
  let resources: Listed<Resource>[] | undefined;
  let templates: Listed<ResourceTemplate>[] | undefined;
  let prompts: NameTable | undefined;

  /** Every page of one kind from every upstream that declares `capability`; an upstream that fails is left out (logged). */
  async function listAll<T>(
    capability: keyof ServerCapabilities,
    page: (server: string, cursor?: string) => Promise<{ items: T[]; nextCursor?: string }>,
  ): Promise<Listed<T>[]> {
    return Promise.all(
      servers.map(async (server) => {
        try {
          if (!(await relay.connection(server).capabilities())[capability]) return { server, items: [] };
          const items: T[] = [];
          let cursor: string | undefined;
          do {
            const next = await page(server, cursor);
            items.push(...next.items);
            cursor = next.nextCursor;
          } while (cursor);
          return { server, items };
        } catch (e) {
          log.warn({ upstream: server, capability, err: String(e) }, 'upstream listing failed; its entries are left out');
          return { server, items: [] };
        }
      }),
    );
  }
  const listResources = async () =>
    (resources = await listAll('resources', async (s, cursor) => {
      const r = await relay.connection(s).request((c) => c.listResources(cursor ? { cursor } : undefined));
      return { items: r.resources, nextCursor: r.nextCursor };
    }));
  const listTemplates = async () =>
    (templates = await listAll('resources', async (s, cursor) => {
      const r = await relay.connection(s).request((c) => c.listResourceTemplates(cursor ? { cursor } : undefined));
      return { items: r.resourceTemplates, nextCursor: r.nextCursor };
    }));
  const listPrompts = async () => {
    const lists = await listAll<Prompt>('prompts', async (s, cursor) => {
      const r = await relay.connection(s).request((c) => c.listPrompts(cursor ? { cursor } : undefined));
      return { items: r.prompts, nextCursor: r.nextCursor };
    });
    prompts = new NameTable(naming, new Map(lists.map((l) => [l.server, l.items.map((p) => p.name)])));
    return { lists, table: prompts };
  };

  /** The upstream that serves `uri`: the one listing it, else the one whose template matches it, else the only one serving resources. */
  async function ownerOf(uri: string): Promise<string> {
    const claimants = () => {
      const exact = resources?.filter((l) => l.items.some((r) => r.uri === uri)).map((l) => l.server) ?? [];
      if (exact.length) return exact;
      return templates?.filter((l) => l.items.some((t) => matches(t.uriTemplate, uri))).map((l) => l.server) ?? [];
    };
    let found = claimants();
    if (!found.length) {
      await Promise.all([listResources(), listTemplates()]);
      found = claimants();
    }
    if (found.length > 1)
      throw new McpError(ErrorCode.InvalidParams, `The resource ${uri} is offered by ${found.join(' and ')}: the gateway does not guess which to ask.`);
    if (found.length === 1) return found[0];
    const serving = [...(resources ?? [])].filter((l) => l.items.length).map((l) => l.server);
    const withTemplates = [...(templates ?? [])].filter((l) => l.items.length).map((l) => l.server);
    const candidates = [...new Set([...serving, ...withTemplates])];
    if (candidates.length === 1) return candidates[0];
    throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${uri}`);
  }

  async function promptTarget(name: string): Promise<{ server: string; tool: string }> {
    let found = naming === 'namespaced' ? splitToolName(name) : prompts?.resolve(name);
    if (!found && naming === 'plain') found = (await listPrompts()).table.resolve(name);
    if (found && 'collision' in found) throw new McpError(ErrorCode.InvalidParams, collisionMessage('prompt', [{ name, servers: found.collision }]));
    if (!found || !servers.includes(found.server)) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
    return found;
  }

  agent.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: (await listResources()).flatMap((l) => l.items) }));
  agent.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: (await listTemplates()).flatMap((l) => l.items) }));
  agent.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
    const server = await ownerOf(request.params.uri);
    await gate.evaluateRead(server, request.params.uri, {
      agentToken: extra.authInfo!.token,
      sessionId: extra.sessionId,
      requestId: extra.requestId,
      signal: extra.signal,
    });
    return upstreamAnswer(() => relay.connection(server).request((c) => c.readResource(request.params, { signal: extra.signal })));
  });
  agent.setRequestHandler(SubscribeRequestSchema, async (request, extra) => {
    const server = await ownerOf(request.params.uri);
    return upstreamAnswer(() => relay.connection(server).request((c) => c.subscribeResource(request.params, { signal: extra.signal })));
  });
  agent.setRequestHandler(UnsubscribeRequestSchema, async (request, extra) => {
    const server = await ownerOf(request.params.uri);
    return upstreamAnswer(() => relay.connection(server).request((c) => c.unsubscribeResource(request.params, { signal: extra.signal })));
  });

  agent.setRequestHandler(ListPromptsRequestSchema, async () => {
    const { lists, table } = await listPrompts();
    const collisions = table.collisions();
    if (collisions.length) {
      const message = collisionMessage('prompt', collisions);
      log.error({ collisions }, message);
      throw new McpError(ErrorCode.InternalError, message);
    }
    return { prompts: lists.flatMap((l) => l.items.map((p) => ({ ...p, name: table.exposed(l.server, p.name) }))) };
  });
  agent.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
    const { server, tool: prompt } = await promptTarget(request.params.name);
    return upstreamAnswer(() => relay.connection(server).request((c) => c.getPrompt({ ...request.params, name: prompt }, { signal: extra.signal })));
  });

  agent.setRequestHandler(CompleteRequestSchema, async (request, extra) => {
    const ref = request.params.ref;
    let server: string;
    let upstreamRef = ref;
    if (ref.type === 'ref/prompt') {
      const target = await promptTarget(ref.name);
      server = target.server;
      upstreamRef = { ...ref, name: target.tool };
    } else {
      // A resource template's URI: the upstream that lists that template (or serves that URI).
      if (!templates) await listTemplates();
      const owners = templates!.filter((l) => l.items.some((t) => t.uriTemplate === ref.uri)).map((l) => l.server);
      server = owners.length === 1 ? owners[0] : await ownerOf(ref.uri);
    }
    if (!(await relay.connection(server).capabilities()).completions) return { completion: { values: [] } };
    return upstreamAnswer(() => relay.connection(server).request((c) => c.complete({ ...request.params, ref: upstreamRef }, { signal: extra.signal })));
  });
}

function matches(template: string, uri: string): boolean {
  try {
    return new UriTemplate(template).match(uri) !== null;
  } catch {
    return false;
  }
}

/** The upstream's answer, or its MCP error as it sent it; a broken upstream is an InternalError naming it. */
async function upstreamAnswer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof UpstreamFailure) throw new McpError(ErrorCode.InternalError, `The upstream server failed: ${e.message}`);
    throw e;
  }
}
