import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchBinding, batchChallenge, BatchPasskeyEvidence } from '../../src/approvals/passkeys/passkey-proof';

const ORIGIN = 'https://approve.example';
const RP_ID = 'approve.example';
const batch: BatchBinding = {
  tenant: 'acme',
  approver: 'bob',
  items: [
    { auth_req_id: 'req-1', call_hash: 'hash-1', decision: 'approve', reason: 'matches PO-7' },
    { auth_req_id: 'req-2', call_hash: 'hash-2', decision: 'deny', reason: 'no PO' },
  ],
  nonce: 'n-1',
};

/** One assertion over the batch, as an authenticator and a browser make it, kept by the vote on item `item`. */
function batchVoteEvent(item: number) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const challenge = batchChallenge(batch);
  const authData = Buffer.concat([createHash('sha256').update(RP_ID).digest(), Buffer.from([0x05]), Buffer.from([0, 0, 0, 3])]);
  const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: ORIGIN }));
  const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientData).digest()]), privateKey);
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string; y: string };
  const passkey: BatchPasskeyEvidence = {
    format: 'webauthn-batch-assertion/v1',
    bound: batch,
    item,
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
    sign_count: 3,
    user_verified: true,
  };
  const { auth_req_id, decision, reason } = batch.items[item];
  return { type: 'approval.vote', approval_id: auth_req_id, data: { decision, reason, passkey } };
}

/** `npm run passkey:verify` on a vote signed as one of a batch: the list's signature, and this vote's own item in it. */
describe('npm run passkey:verify (a batch-signed vote)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'passkey-verify-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (event: unknown, ...args: string[]) => {
    const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(event));
    const out = spawnSync(process.execPath, ['scripts/run-built.js', 'verify-passkey-vote', '--event', file, ...args], { encoding: 'utf8', timeout: 240_000 });
    return { status: out.status, report: out.stdout ? JSON.parse(out.stdout) : out.stderr };
  };

  it("verifies the signed list and that the event's request, decision and reason are its item; refuses an edited event", () => {
    const call = join(dir, 'call.json');
    writeFileSync(call, JSON.stringify({ server: 's', tool: 't', arguments: {} }));
    const ok = run(batchVoteEvent(1));
    expect(ok.report).toMatchObject({ ok: true, problems: [], signed: { auth_req_id: 'req-2', decision: 'deny', reason: 'no PO' } });
    expect(ok.status).toBe(0);

    const event = batchVoteEvent(1);
    const edited = run({ ...event, approval_id: 'req-1', data: { ...event.data, reason: 'fine' } });
    expect(edited.status).toBe(1);
    expect(edited.report.problems).toEqual(['approval_id: differs from the signed request', 'data.reason: differs from the signed reason']);
    // Another call than the signed item's.
    expect(run(event, '--call', call).report.problems).toEqual(['bound.items[1].call_hash: is not the hash of the call given']);
  }, 300_000);
});
