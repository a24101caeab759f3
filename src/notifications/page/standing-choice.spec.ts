import type { StandingOffer } from '../../approvals/standing/standing-terms';
import { formatWindow, standingChoice, standingCovers } from './standing-choice';

/** The parked request, as the page reads it. */
type ApprovalRequest = Parameters<typeof standingChoice>[0];

const request = (offer: StandingOffer | null, over: Partial<ApprovalRequest> = {}) =>
  ({
    agentId: 'pay-agent',
    delegatorId: 'alice',
    toolCall: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 120, currency: 'EUR', to: 'DE89', 'odd name': 1, memo: { ref: 'x' } } },
    resource: { id: 'acct-7' },
    mcpSessionId: 'sess-1',
    standingOffer: offer,
    ...over,
  }) as unknown as ApprovalRequest;

const offer: StandingOffer = { scopes: ['session', 'window'], max_seconds: 3600, max_uses: 10, pin: ['currency', 'memo.ref'] };

describe('the approval page standing choice', () => {
  it("offers the policy's pins fixed, then the call's own top-level arguments a path can name", () => {
    expect(standingChoice(request(offer))?.pins).toEqual([
      { path: 'currency', text: 'currency = "EUR"', policy: true },
      { path: 'memo.ref', text: 'memo.ref = "x"', policy: true },
      { path: 'amount', text: 'amount = 120', policy: false },
      { path: 'to', text: 'to = "DE89"', policy: false },
      { path: 'memo', text: 'memo = {"ref":"x"}', policy: false },
    ]);
  });

  it("offers windows up to the policy's maximum, the maximum last, and its cap on uses", () => {
    const choice = standingChoice(request({ ...offer, max_seconds: 5400 }))!;
    expect(choice.durations).toEqual([300, 900, 1800, 3600, 5400]);
    expect(choice.maxSeconds).toBe(5400);
    expect(choice.maxUses).toBe(10);
    expect(standingChoice(request({ ...offer, max_uses: undefined }))!.maxUses).toBeNull();
  });

  it('offers no choice for this call only, and no session scope on a call without a session', () => {
    expect(standingChoice(request(null))).toBeUndefined();
    expect(standingChoice(request({ ...offer, scopes: ['session'] }, { mcpSessionId: null }))).toBeUndefined();
    expect(standingChoice(request(offer, { mcpSessionId: null }))!.options.map((o) => o.value)).toEqual(['call', 'window']);
  });

  it('says exactly what the chosen terms cover', () => {
    const choice = standingChoice(request(offer))!;
    expect(standingCovers(choice, { scope: 'call', pins: [], expiresIn: 60, maxUses: null })).toBe('Only the call above; the agent asks again next time.');
    expect(standingCovers(choice, { scope: 'window', pins: ['currency = "EUR"', 'to = "DE89"'], expiresIn: 900, maxUses: 3 })).toBe(
      'Later calls by pay-agent for alice to payments/transfer_funds on acct-7 with currency = "EUR", to = "DE89" (other arguments may differ), ' +
        'in any session, for 15 min, at most 3 calls.',
    );
    const session = standingCovers(choice, { scope: 'session', pins: [], expiresIn: 5400, maxUses: null });
    expect(session).toContain('with any arguments, in MCP session sess-1, for up to 1 h 30 min, any number of calls.');
  });

  it('names a window by every unit that is not zero', () => {
    expect([300, 3600, 5400, 86400 + 60, 7 * 86400, 61].map(formatWindow)).toEqual(['5 min', '1 h', '1 h 30 min', '1 d 1 min', '7 d', '1 min 1 s']);
  });
});
