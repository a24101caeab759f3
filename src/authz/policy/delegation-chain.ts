/**
 * Delegation chains as pure functions. A chain is the human's grant to the first agent, then
 * each agent's grant to the next; a call is covered only if EVERY hop covers it, so the
 * effective permission is the intersection of the hops, never the union, and a sub-agent can
 * never hold more than its parent.
 */
export interface HopGrant {
  /** Patterns "server/tool", "server/*" or "*". */
  tools: string[];
  /** Resource id patterns ("*" suffix matches a prefix); null or undefined means any resource. */
  resources?: string[] | null;
}

/** A hop may hold several delegations (re-grants); within a hop they add up, across hops they intersect. */
export type Hop = HopGrant[];

export function toolPatternMatches(pattern: string, server: string, tool: string): boolean {
  if (pattern === '*') return true;
  const [s, t] = pattern.split('/');
  return s === server && (t === '*' || t === tool);
}

export function resourcePatternMatches(pattern: string, resourceId: string | undefined): boolean {
  if (pattern === '*') return true;
  if (resourceId === undefined) return false;
  return pattern.endsWith('*') ? resourceId.startsWith(pattern.slice(0, -1)) : pattern === resourceId;
}

export function grantCovers(grant: HopGrant, server: string, tool: string, resourceId?: string): boolean {
  const toolOk = grant.tools.some((p) => toolPatternMatches(p, server, tool));
  const resourceOk = !grant.resources || grant.resources.some((p) => resourcePatternMatches(p, resourceId));
  return toolOk && resourceOk;
}

export function hopCovers(hop: Hop, server: string, tool: string, resourceId?: string): boolean {
  return hop.some((g) => grantCovers(g, server, tool, resourceId));
}

/** The whole chain covers the call only if every hop does; an empty chain covers nothing. */
export function chainCovers(hops: Hop[], server: string, tool: string, resourceId?: string): boolean {
  return hops.length > 0 && hops.every((hop) => hopCovers(hop, server, tool, resourceId));
}

/**
 * Could the chain cover a call of this tool on some resource? False only when some hop grants the
 * tool on no resource at all: then every call of it is outside the delegation, whatever its input.
 * (Resource limits of different hops that never overlap are not looked for: "maybe" is the safe answer.)
 */
export function chainMayCover(hops: Hop[], server: string, tool: string): boolean {
  return hops.length > 0 && hops.every((hop) => grantMayCover(hop, server, tool));
}

/** Could these grants (a hop, or a human's entitlements as one) cover the tool on some resource? */
export function grantMayCover(grants: HopGrant[], server: string, tool: string): boolean {
  return grants.some((g) => g.tools.some((p) => toolPatternMatches(p, server, tool)) && (!g.resources || g.resources.length > 0));
}

/** Is tool pattern `a` within `b`? */
export function toolPatternWithin(a: string, b: string): boolean {
  if (b === '*' || a === b) return true;
  if (a === '*') return false;
  const [bs, bt] = b.split('/');
  return bt === '*' && a.split('/')[0] === bs;
}

/**
 * Is resource pattern `a` within `b`: does `b` match every resource id `a` matches? An exact id is
 * within itself and within a prefix it starts with; a prefix pattern is within a shorter prefix of
 * it. "*" also matches a call that names no resource, so "*" is within nothing but "*".
 */
export function resourcePatternWithin(a: string, b: string): boolean {
  if (b === '*' || a === b) return true;
  if (a === '*' || !b.endsWith('*')) return false;
  return a.startsWith(b.slice(0, -1));
}

/** Are resource limits `a` within `b` (null: any resource, the widest)? */
export function resourcesWithin(a: string[] | null | undefined, b: string[] | null | undefined): boolean {
  if (!b) return true;
  if (!a) return b.includes('*');
  return a.every((x) => b.some((y) => resourcePatternWithin(x, y)));
}

/** The tool patterns the chain grants, as an explicit intersection (for display and audit). */
export function effectiveToolPatterns(hops: Hop[]): string[] {
  if (hops.length === 0) return [];
  let current = [...new Set(hops[0].flatMap((g) => g.tools))];
  for (const hop of hops.slice(1)) {
    const next = hop.flatMap((g) => g.tools);
    const meet = new Set<string>();
    for (const a of current)
      for (const b of next) {
        if (toolPatternWithin(a, b)) meet.add(a);
        else if (toolPatternWithin(b, a)) meet.add(b);
      }
    current = [...meet];
  }
  return current.sort();
}
