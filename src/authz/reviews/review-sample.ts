/**
 * Which allowed calls a `@sampled_review` obligation sends to a human, decided so that an auditor
 * can recompute it from the audit log alone, and so that nobody outside the service can steer it.
 *
 * The formula (README, "Sampled post-execution review"):
 *
 *   h = SHA-256( UTF-8( tenant_id + "\n" + decision_id ) )
 *   u = the first 8 bytes of h as a big-endian unsigned integer, shifted right by 11 bits (53 bits)
 *   sample = u / 2^53            (a number in [0, 1), exact as a double)
 *   sampled  ⇔  sample < rate
 *
 * The call id is the decision id (`dec_<uuid>`), which the service draws at random for each call
 * and returns with the decision: a gateway or an agent cannot choose it, so cannot keep a call out
 * of the sample. It is in the decision's audit event (data.decision_id), as are the tenant and the
 * rate (data.obligations), so the sample can be recomputed offline (e.g. Python:
 * `int.from_bytes(sha256(f"{t}\n{d}".encode()).digest()[:8], "big") >> 11) / 2**53 < rate`).
 * Plain TypeScript, no Nest.
 */
import { createHash } from 'node:crypto';

const TWO_POW_53 = 2 ** 53;

/** The call's sample value in [0, 1). */
export function sampleOf(tenantId: string, callId: string): number {
  const digest = createHash('sha256').update(`${tenantId}\n${callId}`, 'utf8').digest();
  return Number(digest.readBigUInt64BE(0) >> 11n) / TWO_POW_53;
}

/** Is the call in the sample at this rate? */
export function isSampled(tenantId: string, callId: string, rate: number): boolean {
  return sampleOf(tenantId, callId) < rate;
}
