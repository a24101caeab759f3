/**
 * How agents name an upstream's tools (and prompts). `namespaced` (the default): `<server>__<tool>`
 * (two underscores); upstream names have no "__" (gateway-config.ts), so the first "__" splits
 * the name and the tool part may hold anything the upstream uses, "__" included. `plain`: the
 * upstream's own name, allowed only while no two upstreams offer the same name; a name two
 * upstreams offer is never routed (NameTable.resolve says which servers collide).
 */
export const TOOL_SEPARATOR = '__';
export const NAMINGS = ['namespaced', 'plain'] as const;
export type Naming = (typeof NAMINGS)[number];

export function namespacedTool(server: string, tool: string): string {
  return `${server}${TOOL_SEPARATOR}${tool}`;
}

export function splitToolName(name: string): { server: string; tool: string } | undefined {
  const at = name.indexOf(TOOL_SEPARATOR);
  if (at <= 0 || at + TOOL_SEPARATOR.length >= name.length) return undefined;
  return { server: name.slice(0, at), tool: name.slice(at + TOOL_SEPARATOR.length) };
}

export type Resolved = { server: string; tool: string } | { collision: string[] } | undefined;

/** The names agents see for each upstream's tools (or prompts), and the way back. */
export class NameTable {
  private readonly routes = new Map<string, string[]>();

  /** @param lists the upstreams' own names, by upstream */
  constructor(
    readonly naming: Naming,
    lists: Map<string, string[]>,
  ) {
    for (const [server, names] of lists) {
      for (const name of new Set(names)) {
        const exposed = this.exposed(server, name);
        this.routes.set(exposed, [...(this.routes.get(exposed) ?? []), server]);
      }
    }
  }

  exposed(server: string, name: string): string {
    return this.naming === 'plain' ? name : namespacedTool(server, name);
  }

  /** Names two or more upstreams offer (plain naming only), with the servers that offer each. */
  collisions(): { name: string; servers: string[] }[] {
    return [...this.routes].filter(([, servers]) => servers.length > 1).map(([name, servers]) => ({ name, servers }));
  }

  /** The upstream and its own name for an agent's name; a collision is never resolved to either server. */
  resolve(name: string): Resolved {
    if (this.naming === 'namespaced') return splitToolName(name);
    const servers = this.routes.get(name);
    if (!servers) return undefined;
    return servers.length === 1 ? { server: servers[0], tool: name } : { collision: servers };
  }
}

/** The sentence an agent and the log get when plain names collide. */
export function collisionMessage(kind: 'tool' | 'prompt', collisions: { name: string; servers: string[] }[]): string {
  return (
    `With tool_names "plain" every ${kind} name must be offered by one upstream, but ` +
    collisions.map((c) => `"${c.name}" is offered by ${c.servers.join(' and ')}`).join('; ') +
    `: the gateway refuses to route ${collisions.length > 1 ? 'these names' : 'this name'} (set tool_names to "namespaced", or rename or remove one).`
  );
}
