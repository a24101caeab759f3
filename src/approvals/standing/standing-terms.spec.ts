import { agreedTerms, chooseTerms, mergeStandingOffers, pinnedValues, pinsMatch, StandingOffer, standingOfferOf } from './standing-terms';

const offer: StandingOffer = { scopes: ['session', 'window'], max_seconds: 3600, max_uses: 10, pin: ['currency'] };

describe('standing terms', () => {
  it('reads an offer from the annotations, and none without @standing', () => {
    expect(standingOfferOf({ standing: 'window, session', standing_max_seconds: '60', standing_pin: 'b,a' })).toEqual({
      scopes: ['session', 'window'],
      max_seconds: 60,
      pin: ['a', 'b'],
    });
    expect(standingOfferOf({ approvers: 'user:bob' })).toBeUndefined();
  });

  it('offers across several obligations only what every one offers, with the strictest caps and every pin', () => {
    expect(mergeStandingOffers([offer, { scopes: ['window'], max_seconds: 60, pin: ['to'] }])).toEqual({
      scopes: ['window'],
      max_seconds: 60,
      max_uses: 10,
      pin: ['currency', 'to'],
    });
    expect(mergeStandingOffers([offer, undefined])).toBeUndefined();
    expect(
      mergeStandingOffers([
        { ...offer, scopes: ['session'] },
        { ...offer, scopes: ['window'] },
      ]),
    ).toBeUndefined();
  });

  it('keeps the policy pins whatever the approver pins, and defaults to the policy caps', () => {
    expect(chooseTerms(offer, { scope: 'session', pin: ['to'] }, { mcpSessionId: 's' })).toEqual({
      scope: 'session',
      expires_in: 3600,
      max_uses: 10,
      pin: ['currency', 'to'],
    });
    expect(chooseTerms(offer, { scope: 'call' }, { mcpSessionId: 's' })).toBeNull();
  });

  it.each([
    [null, { scope: 'session' as const }, 'standing.scope'],
    [{ ...offer, scopes: ['window' as const] }, { scope: 'session' as const }, 'standing.scope'],
    [offer, { scope: 'window' as const, expires_in: 3601 }, 'standing.expires_in'],
    [offer, { scope: 'window' as const, max_uses: 11 }, 'standing.max_uses'],
  ])('refuses a choice beyond the offer (%#), naming the field', (o, choice, field) => {
    expect(() => chooseTerms(o, choice, { mcpSessionId: 's' })).toThrow(expect.objectContaining({ extra: expect.objectContaining({ field }) }));
  });

  it('refuses a session scope on a call without a session', () => {
    expect(() => chooseTerms(offer, { scope: 'session' }, { mcpSessionId: null })).toThrow(/mcp_session_id/);
  });

  it('stands for a quorum only when every approving vote chose the same scope, on the narrowest terms', () => {
    const t = (scope: 'session' | 'window', expires_in: number, max_uses: number | null, pin: string[]) => ({ scope, expires_in, max_uses, pin });
    expect(agreedTerms([t('window', 60, null, ['a']), t('window', 30, 4, ['b'])])).toEqual(t('window', 30, 4, ['a', 'b']));
    expect(agreedTerms([t('window', 60, null, []), t('session', 60, null, [])])).toBeNull();
    expect(agreedTerms([t('window', 60, null, []), null])).toBeNull();
  });

  it('matches pinned values exactly (canonical JSON), an absent path only when still absent', () => {
    const pinned = pinnedValues({ amount: 1.5, to: { iban: 'X', name: 'n' } }, ['amount', 'to.iban', 'memo']);
    expect(pinned).toEqual({ amount: '1.5', 'to.iban': '"X"', memo: null });
    expect(pinsMatch(pinned, { amount: 1.5, to: { iban: 'X', name: 'other' } })).toBe(true);
    expect(pinsMatch(pinned, { amount: '1.5', to: { iban: 'X' } })).toBe(false);
    expect(pinsMatch(pinned, { amount: 1.5, to: { iban: 'X' }, memo: 'hi' })).toBe(false);
    expect(pinsMatch(pinned, { amount: 1.5 })).toBe(false);
  });
});
