import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import canonicalize from 'canonicalize';
import {
  BatchBinding,
  batchChallenge,
  BatchPasskeyEvidence,
  checkPasskeyEvidence,
  coseToJwk,
  DecisionBinding,
  decisionChallenge,
  mismatchedBatch,
  mismatchedFields,
  PasskeyEvidence,
  signedDecision,
} from './passkey-proof';

const binding: DecisionBinding = {
  tenant: 'acme',
  auth_req_id: 'req-1',
  call_hash: 'hash-of-the-call',
  approver: 'bob',
  decision: 'approve',
  reason: 'invoice matches PO-7',
  nonce: 'n-1',
};

const ORIGIN = 'https://approve.example';
const RP_ID = 'approve.example';

/** What an authenticator and a browser make: authenticatorData, clientDataJSON and an ES256 signature over them. */
function signedEvidence(bound: DecisionBinding, over: { flags?: number; origin?: string; type?: string; challenge?: string } = {}): PasskeyEvidence {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const challenge = decisionChallenge(bound);
  const authData = Buffer.concat([createHash('sha256').update(RP_ID).digest(), Buffer.from([over.flags ?? 0x05]), Buffer.from([0, 0, 0, 7])]);
  const clientData = Buffer.from(JSON.stringify({ type: over.type ?? 'webauthn.get', challenge: over.challenge ?? challenge, origin: over.origin ?? ORIGIN }));
  const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientData).digest()]), privateKey);
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string; y: string };
  return {
    format: 'webauthn-assertion/v1',
    bound,
    challenge,
    credential_id: 'cred-1',
    public_key_cose: '',
    public_key_jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
    algorithm: 'ES256',
    authenticator_data: authData.toString('base64url'),
    client_data_json: clientData.toString('base64url'),
    signature: signature.toString('base64url'),
    rp_id: RP_ID,
    origins: [ORIGIN],
    sign_count: 7,
    user_verified: true,
  };
}

describe('the decision challenge', () => {
  it('is base64url(SHA-256(JCS canonical JSON of the binding))', () => {
    const expected = createHash('sha256').update(canonicalize(binding)!).digest('base64url');
    expect(decisionChallenge(binding)).toBe(expected);
    // Key order does not matter: the same binding written in another order has the same challenge.
    const reordered = Object.fromEntries(Object.entries(binding).reverse()) as unknown as DecisionBinding;
    expect(decisionChallenge(reordered)).toBe(expected);
  });

  it.each(['tenant', 'auth_req_id', 'call_hash', 'approver', 'decision', 'reason', 'nonce'] as const)('changes when %s changes', (field) => {
    const other = { ...binding, [field]: field === 'decision' ? 'deny' : `${binding[field]}x` };
    expect(decisionChallenge(other)).not.toBe(decisionChallenge(binding));
  });

  it('ignores fields outside the binding, so a caller cannot smuggle meaning into it', () => {
    expect(decisionChallenge({ ...binding, extra: 'x' } as DecisionBinding)).toBe(decisionChallenge(binding));
  });

  it('names the fields in which a signed binding differs from a vote (the nonce aside)', () => {
    const { nonce: _nonce, ...vote } = binding;
    expect(mismatchedFields(binding, vote)).toEqual([]);
    expect(mismatchedFields(binding, { ...vote, decision: 'deny', reason: 'no' })).toEqual(['decision', 'reason']);
    expect(mismatchedFields(binding, { ...vote, auth_req_id: 'req-2' })).toEqual(['auth_req_id']);
  });
});

describe('offline verification of a passkey-signed vote', () => {
  it('accepts an assertion over the binding by the key, from an accepted origin, with user verification', () => {
    expect(checkPasskeyEvidence(signedEvidence(binding))).toEqual([]);
    expect(checkPasskeyEvidence(signedEvidence(binding), { callHash: binding.call_hash })).toEqual([]);
  });

  it('refuses a binding edited after signing (another reason, decision or request)', () => {
    const evidence = signedEvidence(binding);
    for (const edit of [{ reason: 'changed' }, { decision: 'deny' as const }, { auth_req_id: 'req-2' }]) {
      expect(checkPasskeyEvidence({ ...evidence, bound: { ...binding, ...edit } })).toContain('challenge: is not base64url(SHA-256(canonical JSON of bound))');
    }
    // Recomputing the challenge too does not help: clientDataJSON (signed) carries the original.
    const bound = { ...binding, reason: 'changed' };
    expect(checkPasskeyEvidence({ ...evidence, bound, challenge: decisionChallenge(bound) })).toContain(
      'client_data_json.challenge: is not the decision challenge',
    );
  });

  it('refuses another call than the one given', () => {
    expect(checkPasskeyEvidence(signedEvidence(binding), { callHash: 'another' })).toEqual(['bound.call_hash: is not the hash of the call given']);
  });

  it('refuses without user verification, from another origin, a registration ceremony, or by another key', () => {
    expect(checkPasskeyEvidence(signedEvidence(binding, { flags: 0x01 }))).toEqual(['authenticator_data: user verification flag is not set']);
    expect(checkPasskeyEvidence(signedEvidence(binding, { origin: 'https://evil.example' }))[0]).toMatch(/^client_data_json.origin/);
    expect(checkPasskeyEvidence(signedEvidence(binding, { type: 'webauthn.create' }))[0]).toMatch(/^client_data_json.type/);
    const other = signedEvidence(binding);
    expect(checkPasskeyEvidence({ ...signedEvidence(binding), public_key_jwk: other.public_key_jwk })).toEqual([
      'signature: does not verify with public_key_jwk over authenticator_data ‖ SHA-256(client_data_json)',
    ]);
  });

  it('refuses a signature over another RP id', () => {
    expect(checkPasskeyEvidence({ ...signedEvidence(binding), rp_id: 'other.example' })).toContain('authenticator_data: is not for RP id other.example');
  });
});

const batch: BatchBinding = {
  tenant: 'acme',
  approver: 'bob',
  items: [
    { auth_req_id: 'req-2', call_hash: 'hash-2', decision: 'deny', reason: 'no PO' },
    { auth_req_id: 'req-1', call_hash: 'hash-1', decision: 'approve', reason: 'matches PO-7' },
  ],
  nonce: 'n-2',
};

/** A vote's evidence out of a batch signed once: `item` is its place in the sorted list. */
function batchEvidence(item: number): BatchPasskeyEvidence {
  const challenge = batchChallenge(batch);
  const { format: _format, bound: _bound, ...signed } = signedEvidence(binding, { challenge });
  return { ...signed, format: 'webauthn-batch-assertion/v1', bound: batch, challenge, item };
}

describe('the batch challenge', () => {
  it('is base64url(SHA-256(JCS canonical JSON of the binding with its items sorted by auth_req_id))', () => {
    const sorted = { tenant: 'acme', approver: 'bob', items: [batch.items[1], batch.items[0]], nonce: 'n-2' };
    expect(batchChallenge(batch)).toBe(createHash('sha256').update(canonicalize(sorted)!).digest('base64url'));
  });

  it.each([
    ['a reason', { reason: 'something else' }],
    ['a decision', { decision: 'approve' }],
    ['a request', { auth_req_id: 'req-3' }],
    ['a call', { call_hash: 'hash-3' }],
  ] as const)('changes with %s of one item, and with an item more', (_what, edit) => {
    const edited = { ...batch, items: [{ ...batch.items[0], ...edit }, batch.items[1]] };
    expect(batchChallenge(edited)).not.toBe(batchChallenge(batch));
    expect(batchChallenge({ ...batch, items: [...batch.items, { ...batch.items[0], auth_req_id: 'req-3' }] })).not.toBe(batchChallenge(batch));
  });

  it('names how a submitted batch differs from the signed one', () => {
    const { nonce: _nonce, ...voted } = batch;
    expect(mismatchedBatch(batch, { ...voted, items: [...voted.items].reverse() })).toEqual([]);
    expect(mismatchedBatch(batch, { ...voted, items: [{ ...voted.items[0], reason: 'other' }, voted.items[1]] })).toEqual(['req-2.reason']);
    expect(mismatchedBatch(batch, { ...voted, items: [voted.items[0]] })).toEqual(['items']);
    expect(mismatchedBatch(batch, { ...voted, approver: 'carol' })).toEqual(['approver']);
  });
});

describe('offline verification of a batch-signed vote', () => {
  it("verifies the list, and the vote's own item is its request, call, decision and reason", () => {
    expect(checkPasskeyEvidence(batchEvidence(0), { callHash: 'hash-1' })).toEqual([]);
    expect(signedDecision(batchEvidence(0))).toEqual({ ...batch.items[1], tenant: 'acme', approver: 'bob', nonce: 'n-2' });
    expect(signedDecision(batchEvidence(1))?.auth_req_id).toBe('req-2');
    expect(checkPasskeyEvidence(batchEvidence(1), { callHash: 'hash-1' })).toEqual(['bound.items[1].call_hash: is not the hash of the call given']);
  });

  it('refuses an edited list and an item outside it', () => {
    const e = batchEvidence(0);
    const edited = { ...e, bound: { ...batch, items: [batch.items[0], { ...batch.items[1], reason: 'edited' }] } };
    expect(checkPasskeyEvidence(edited)).toContain('challenge: is not base64url(SHA-256(canonical JSON of bound))');
    expect(checkPasskeyEvidence({ ...e, item: 2 })).toEqual(['item: is not a position in bound.items']);
  });
});

describe('COSE to JWK', () => {
  it('reads an EC2 P-256 ES256 key and an Ed25519 key', () => {
    const x = new Uint8Array(32).fill(1);
    const y = new Uint8Array(32).fill(2);
    expect(
      coseToJwk(
        new Map<number, unknown>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, x],
          [-3, y],
        ]),
      ),
    ).toEqual({
      jwk: { kty: 'EC', crv: 'P-256', x: Buffer.from(x).toString('base64url'), y: Buffer.from(y).toString('base64url') },
      algorithm: 'ES256',
    });
    expect(
      coseToJwk(
        new Map<number, unknown>([
          [1, 1],
          [3, -8],
          [-1, 6],
          [-2, x],
        ]),
      ),
    ).toEqual({ jwk: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(x).toString('base64url') }, algorithm: 'EdDSA' });
    expect(() =>
      coseToJwk(
        new Map<number, unknown>([
          [1, 2],
          [3, -999],
        ]),
      ),
    ).toThrow(/unsupported COSE algorithm/);
  });
});
