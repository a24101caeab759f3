import { InsufficientScope } from '../errors/protocol-errors';
import { GatewayPrincipal } from './auth.decorators';

/** 403 insufficient_scope unless the gateway's token carries `scope`. */
export function requireScope(gateway: GatewayPrincipal, scope: string): void {
  if (!scopesOf(gateway.claims).includes(scope)) throw new InsufficientScope(`this endpoint needs the "${scope}" scope`);
}

/** OAuth scopes from `scope` (space-separated, RFC 8693/9068) or `scp` (an array, as some IdPs issue). */
function scopesOf(claims: Record<string, unknown>): string[] {
  if (typeof claims.scope === 'string') return claims.scope.split(' ').filter(Boolean);
  if (Array.isArray(claims.scp)) return claims.scp.filter((s): s is string => typeof s === 'string');
  return [];
}
