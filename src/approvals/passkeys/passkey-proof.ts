/**
 * Passkey-signed decisions, the part anyone can check: what a decision's WebAuthn challenge binds
 * and how an auditor verifies, offline and with nothing but the audit event, that the holder of a
 * registered passkey approved (or denied) exactly this call with exactly this reason.
 *
 * The challenge is base64url(SHA-256(JCS canonical JSON of the binding)): the tenant, the request
 * (auth_req_id), the call (call_hash, the same hash the approval token carries), the approver, the
 * decision, the reason as recorded, and a server nonce that makes each challenge single-use. An
 * assertion over it is a signature by the passkey over authenticatorData ‖ SHA-256(clientDataJSON),
 * and clientDataJSON carries the challenge, so changing any bound field breaks the proof.
 *
 * Plain TypeScript over node:crypto (no Nest, no database): the service, the CLI
 * (`npm run passkey:verify`) and an auditor's own script compute the same thing.
 */
import { createHash, verify as verifySignature } from 'node:crypto';
import { canonicalJson } from '../../common/canonical-json';

export type PasskeyDecision = 'approve' | 'deny';

/** A public key as a JWK (RFC 7517): EC (crv, x, y), OKP (crv, x) or RSA (n, e). */
export interface PublicJwk {
  kty: string;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

/** What one decision's challenge binds. Every field is required: nothing is left to interpretation. */
export interface DecisionBinding {
  tenant: string;
  auth_req_id: string;
  call_hash: string;
  approver: string;
  decision: PasskeyDecision;
  reason: string;
  nonce: string;
}

export const BOUND_FIELDS = ['tenant', 'auth_req_id', 'call_hash', 'approver', 'decision', 'reason', 'nonce'] as const;

/** The WebAuthn challenge of a decision: base64url(SHA-256(canonical JSON of the binding)). */
export function decisionChallenge(b: DecisionBinding): string {
  const bound = Object.fromEntries(BOUND_FIELDS.map((k) => [k, b[k]]));
  return createHash('sha256').update(canonicalJson(bound)).digest('base64url');
}

/** One decision in a batch the approver signs at once: the request, its call, the decision and the reason as recorded. */
export interface BatchItemBinding {
  auth_req_id: string;
  call_hash: string;
  decision: PasskeyDecision;
  reason: string;
}

/**
 * What one batch decision's challenge binds: the tenant, the approver, every decision of the batch
 * (sorted by auth_req_id, so that the order the page sent them in does not matter) and a nonce.
 */
export interface BatchBinding {
  tenant: string;
  approver: string;
  items: BatchItemBinding[];
  nonce: string;
}

const BATCH_ITEM_FIELDS = ['auth_req_id', 'call_hash', 'decision', 'reason'] as const;

/** The items of a batch in the order the binding keeps them: by auth_req_id, each with exactly its bound fields. */
export function sortedBatchItems(items: BatchItemBinding[]): BatchItemBinding[] {
  return items
    .map((i) => Object.fromEntries(BATCH_ITEM_FIELDS.map((k) => [k, i[k]])) as unknown as BatchItemBinding)
    .sort((a, b) => (a.auth_req_id < b.auth_req_id ? -1 : a.auth_req_id > b.auth_req_id ? 1 : 0));
}

/** The WebAuthn challenge of a batch decision: base64url(SHA-256(canonical JSON of the binding, its items sorted)). */
export function batchChallenge(b: BatchBinding): string {
  const bound = { tenant: b.tenant, approver: b.approver, items: sortedBatchItems(b.items), nonce: b.nonce };
  return createHash('sha256').update(canonicalJson(bound)).digest('base64url');
}

/**
 * How the submitted batch differs from the signed one (nonce aside): `items` when they are not the
 * same requests, else `<auth_req_id>.<field>` for each field signed otherwise; empty when they agree.
 */
export function mismatchedBatch(signed: BatchBinding, voted: Omit<BatchBinding, 'nonce'>): string[] {
  const problems: string[] = [];
  if (signed.tenant !== voted.tenant) problems.push('tenant');
  if (signed.approver !== voted.approver) problems.push('approver');
  const a = sortedBatchItems(signed.items);
  const b = sortedBatchItems(voted.items);
  if (a.length !== b.length || a.some((item, i) => item.auth_req_id !== b[i].auth_req_id)) return [...problems, 'items'];
  a.forEach((item, i) => BATCH_ITEM_FIELDS.forEach((k) => item[k] !== b[i][k] && problems.push(`${item.auth_req_id}.${k}`)));
  return problems;
}

/** A change to an approver's passkeys that one of their existing passkeys must sign (once they have one). */
export type ManagementAction = 'register' | 'remove' | 'preference';

/**
 * What a management challenge binds: the tenant, the approver, the action and its target (the
 * passkey's id for `remove`, `always=false` for `preference`, null for `register`) and a nonce.
 */
export interface ManagementBinding {
  tenant: string;
  approver: string;
  action: ManagementAction;
  target: string | null;
  nonce: string;
}

const MANAGEMENT_FIELDS = ['tenant', 'approver', 'action', 'target', 'nonce'] as const;

/** The WebAuthn challenge of a passkey management action: base64url(SHA-256(canonical JSON of the binding)). */
export function managementChallenge(b: ManagementBinding): string {
  const bound = Object.fromEntries(MANAGEMENT_FIELDS.map((k) => [k, b[k]]));
  return createHash('sha256').update(canonicalJson(bound)).digest('base64url');
}

/** The bound fields (nonce aside) in which `signed` differs from `voted`: what an assertion binds that this vote is not. */
export function mismatchedFields(signed: DecisionBinding, voted: Omit<DecisionBinding, 'nonce'>): string[] {
  return BOUND_FIELDS.filter((k) => k !== 'nonce' && signed[k] !== voted[k]);
}

/**
 * What the vote's audit event carries (data.passkey), enough to verify it offline: the binding,
 * the credential (id and public key, as COSE and as JWK), the assertion as the authenticator and
 * the browser produced it (all base64url), and the relying party it was made for.
 */
export interface PasskeyEvidence {
  format: 'webauthn-assertion/v1';
  bound: DecisionBinding;
  challenge: string;
  credential_id: string;
  public_key_cose: string;
  public_key_jwk: PublicJwk;
  /** The JOSE name of the signature algorithm (ES256, EdDSA, RS256, …). */
  algorithm: string;
  authenticator_data: string;
  client_data_json: string;
  signature: string;
  rp_id: string;
  /** The origins the service accepted (clientDataJSON's origin is one of them). */
  origins: string[];
  /** The authenticator's signature counter in this assertion. */
  sign_count: number;
  user_verified: boolean;
}

/**
 * A vote signed as one of a batch: the same assertion fields, but `bound` is the whole batch and
 * `item` is this vote's position in `bound.items` (sorted by auth_req_id). An auditor recomputes
 * the challenge from `bound` and checks that item `item` is this vote's request, call, decision and reason.
 */
export interface BatchPasskeyEvidence extends Omit<PasskeyEvidence, 'format' | 'bound'> {
  format: 'webauthn-batch-assertion/v1';
  bound: BatchBinding;
  item: number;
}

/** What a passkey-signed vote keeps: one decision's assertion, or a batch's with this vote's place in it. */
export type VoteEvidence = PasskeyEvidence | BatchPasskeyEvidence;

/** The decision a vote's evidence signs for that vote: the binding itself, or the batch's item for it (undefined when `item` is out of range). */
export function signedDecision(e: VoteEvidence): DecisionBinding | undefined {
  if (e.format !== 'webauthn-batch-assertion/v1') return e.bound;
  const item = Number.isInteger(e.item) ? sortedBatchItems(e.bound.items)[e.item] : undefined;
  return item && { tenant: e.bound.tenant, approver: e.bound.approver, nonce: e.bound.nonce, ...item };
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;

/** Node's digest (and padding) for a JOSE signature algorithm; WebAuthn ECDSA signatures are DER. */
const ALGORITHMS: Record<string, { hash: string | null; pss?: boolean }> = {
  ES256: { hash: 'sha256' },
  ES384: { hash: 'sha384' },
  ES512: { hash: 'sha512' },
  RS256: { hash: 'sha256' },
  PS256: { hash: 'sha256', pss: true },
  EdDSA: { hash: null },
};

/**
 * Every reason `e` does not prove its binding; empty when it does. Checks: the challenge is the
 * binding's; clientDataJSON is a `webauthn.get` over that challenge from an accepted origin;
 * authenticatorData is for the RP id, with user presence and user verification; the signature
 * verifies with the public key. With `callHash`, also that the binding is for that call. A batch
 * vote's evidence is checked the same way over the batch's binding, and its `item` must be in it.
 */
export function checkPasskeyEvidence(e: VoteEvidence, expect: { callHash?: string } = {}): string[] {
  const problems: string[] = [];
  const batch = e.format === 'webauthn-batch-assertion/v1';
  if (e.challenge !== (batch ? batchChallenge(e.bound) : decisionChallenge(e.bound)))
    problems.push('challenge: is not base64url(SHA-256(canonical JSON of bound))');
  const decision = signedDecision(e);
  if (!decision) problems.push('item: is not a position in bound.items');
  const callField = batch ? `bound.items[${e.item}].call_hash` : 'bound.call_hash';
  if (expect.callHash !== undefined && decision?.call_hash !== expect.callHash) problems.push(`${callField}: is not the hash of the call given`);
  let clientData: { type?: unknown; challenge?: unknown; origin?: unknown };
  try {
    clientData = JSON.parse(Buffer.from(e.client_data_json, 'base64url').toString('utf8'));
  } catch {
    return [...problems, 'client_data_json: is not base64url JSON'];
  }
  if (clientData.type !== 'webauthn.get') problems.push(`client_data_json.type: is ${JSON.stringify(clientData.type)}, not "webauthn.get"`);
  if (clientData.challenge !== e.challenge) problems.push('client_data_json.challenge: is not the decision challenge');
  if (typeof clientData.origin !== 'string' || !e.origins.includes(clientData.origin)) {
    problems.push(`client_data_json.origin: ${JSON.stringify(clientData.origin)} is not one of ${JSON.stringify(e.origins)}`);
  }
  const authData = Buffer.from(e.authenticator_data, 'base64url');
  if (authData.length < 37) return [...problems, 'authenticator_data: is shorter than 37 bytes'];
  if (!authData.subarray(0, 32).equals(createHash('sha256').update(e.rp_id).digest())) problems.push(`authenticator_data: is not for RP id ${e.rp_id}`);
  const flags = authData[32];
  if (!(flags & FLAG_UP)) problems.push('authenticator_data: user presence flag is not set');
  if (!(flags & FLAG_UV)) problems.push('authenticator_data: user verification flag is not set');
  const alg = ALGORITHMS[e.algorithm];
  if (!alg) return [...problems, `algorithm: ${e.algorithm} is not supported`];
  const signed = Buffer.concat([authData, createHash('sha256').update(Buffer.from(e.client_data_json, 'base64url')).digest()]);
  let valid: boolean;
  try {
    const key = { key: e.public_key_jwk as never, format: 'jwk' as const, ...(alg.pss ? { padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 } : {}) };
    valid = verifySignature(alg.hash, signed, key, Buffer.from(e.signature, 'base64url'));
  } catch {
    valid = false;
  }
  if (!valid) problems.push('signature: does not verify with public_key_jwk over authenticator_data ‖ SHA-256(client_data_json)');
  return problems;
}

// COSE (RFC 9053) key parameters and the algorithms a passkey may use here.
const COSE_ALG_NAMES: Record<number, string> = { [-7]: 'ES256', [-35]: 'ES384', [-36]: 'ES512', [-8]: 'EdDSA', [-257]: 'RS256', [-37]: 'PS256' };
const COSE_CURVES: Record<number, string> = { 1: 'P-256', 2: 'P-384', 3: 'P-521', 6: 'Ed25519' };

/** The JWK and JOSE algorithm name of a decoded COSE public key (a Map of COSE labels). */
export function coseToJwk(cose: Map<number, unknown>): { jwk: PublicJwk; algorithm: string } {
  const b64 = (v: unknown) => Buffer.from(v as Uint8Array).toString('base64url');
  const kty = cose.get(1);
  const algorithm = COSE_ALG_NAMES[Number(cose.get(3))];
  if (!algorithm) throw new Error(`unsupported COSE algorithm ${String(cose.get(3))}`);
  if (kty === 2) {
    const crv = COSE_CURVES[Number(cose.get(-1))];
    if (!crv) throw new Error('unsupported EC2 curve');
    return { jwk: { kty: 'EC', crv, x: b64(cose.get(-2)), y: b64(cose.get(-3)) }, algorithm };
  }
  if (kty === 1) {
    if (COSE_CURVES[Number(cose.get(-1))] !== 'Ed25519') throw new Error('unsupported OKP curve');
    return { jwk: { kty: 'OKP', crv: 'Ed25519', x: b64(cose.get(-2)) }, algorithm };
  }
  if (kty === 3) return { jwk: { kty: 'RSA', n: b64(cose.get(-1)), e: b64(cose.get(-2)) }, algorithm };
  throw new Error(`unsupported COSE key type ${String(kty)}`);
}
