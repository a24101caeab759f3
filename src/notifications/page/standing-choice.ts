/**
 * The approval page's standing-approval choice: the scopes the policy offers for this call, each
 * with exactly what it would let through, in words, before the approver confirms. Pure.
 */
import type { ApprovalRequest } from '../../approvals/approval-request.entity';
import { DEFAULT_SESSION_MAX_SECONDS, pinnedValues, StandingScope } from '../../approvals/standing/standing-terms';
import { formatDuration } from './approval-page.html';

export interface StandingOption {
  value: 'call' | StandingScope;
  label: string;
  /** What choosing it would allow, in full. */
  covers: string;
}

/** The options for this request; none when the policy offers only "this call". */
export function standingOptions(r: ApprovalRequest): StandingOption[] | undefined {
  const offer = r.standingOffer;
  if (!offer?.scopes.length) return undefined;
  const pinned = Object.entries(pinnedValues(r.toolCall.arguments, offer.pin));
  const args = pinned.length
    ? `with ${pinned.map(([path, v]) => (v === null ? `no ${path}` : `${path} = ${v}`)).join(', ')} (other arguments may differ)`
    : 'with any arguments';
  const resource = typeof r.resource.id === 'string' ? ` on ${r.resource.id}` : '';
  const seconds = offer.max_seconds ?? DEFAULT_SESSION_MAX_SECONDS;
  const uses = offer.max_uses ? `, at most ${offer.max_uses} calls` : '';
  const who = `calls by ${r.agentId} for ${r.delegatorId} to ${r.toolCall.server}/${r.toolCall.tool}${resource} ${args}`;
  const ends = 'It ends early if you revoke it or the delegation is revoked; forbidding policies still apply.';
  const options: StandingOption[] = [{ value: 'call', label: 'This call only', covers: 'Only the call above; the agent asks again next time.' }];
  if (offer.scopes.includes('session') && r.mcpSessionId) {
    options.push({
      value: 'session',
      label: 'The rest of this session',
      covers: `Later ${who}, in MCP session ${r.mcpSessionId}, for up to ${formatDuration(seconds)}${uses}. ${ends}`,
    });
  }
  if (offer.scopes.includes('window')) {
    options.push({
      value: 'window',
      label: `The next ${formatDuration(seconds)}`,
      covers: `Later ${who}, in any session, for ${formatDuration(seconds)}${uses}. ${ends}`,
    });
  }
  return options.length > 1 ? options : undefined;
}
