import { readFileSync } from 'node:fs';
import { callHash } from '../common/canonical-json';
import { checkPasskeyEvidence, signedDecision, VoteEvidence } from '../approvals/passkeys/passkey-proof';
import { cliFlags } from './cli-args';

/**
 * npm run passkey:verify -- --event <file.json> [--call <call.json>]
 * Checks offline, with nothing but the file, that a passkey-signed vote proves its decision: the
 * file is an `approval.vote` audit event (as GET /v1/audit/events returns it: its `data.passkey`),
 * or that `passkey` object alone. With --call (the tool call as {server, tool, arguments}), also
 * that the vote was for exactly that call (its call_hash). A vote signed as one of a batch
 * (format webauthn-batch-assertion/v1) is checked over the whole signed list, and its own item in
 * that list must be the event's request, decision and reason. Needs no database, key or network:
 * the public key travels in the event. Prints a JSON report; exits 1 when anything fails.
 */
function main(): void {
  const usage = 'npm run passkey:verify -- --event <file.json> [--call <call.json>]';
  const flags = cliFlags(usage, { event: { type: 'string' }, call: { type: 'string' } });
  if (typeof flags.event !== 'string') {
    console.error(usage);
    process.exit(2);
  }
  const input = JSON.parse(readFileSync(flags.event, 'utf8')) as {
    approval_id?: string;
    data?: { passkey?: VoteEvidence; decision?: string; reason?: string };
    passkey?: VoteEvidence;
    format?: string;
  };
  const evidence =
    input.data?.passkey ??
    input.passkey ??
    (input.format === 'webauthn-assertion/v1' || input.format === 'webauthn-batch-assertion/v1' ? (input as VoteEvidence) : undefined);
  if (!evidence) {
    console.log(JSON.stringify({ ok: false, problems: ['the file holds no passkey evidence (data.passkey of an approval.vote event)'] }));
    process.exit(1);
  }
  const expectCallHash = typeof flags.call === 'string' ? callHash(JSON.parse(readFileSync(flags.call, 'utf8'))) : undefined;
  const problems = checkPasskeyEvidence(evidence, { callHash: expectCallHash });
  // The event's own request, decision and reason must be the ones the passkey signed (for a batch: this vote's item).
  const signed = signedDecision(evidence);
  if (typeof input.approval_id === 'string' && input.approval_id !== signed?.auth_req_id) problems.push('approval_id: differs from the signed request');
  if (input.data?.decision !== undefined && input.data.decision !== signed?.decision) problems.push('data.decision: differs from the signed decision');
  if (input.data?.reason !== undefined && input.data.reason !== signed?.reason) problems.push('data.reason: differs from the signed reason');
  console.log(
    JSON.stringify(
      { ok: problems.length === 0, problems, bound: evidence.bound, signed, credential_id: evidence.credential_id, rp_id: evidence.rp_id },
      null,
      2,
    ),
  );
  process.exit(problems.length ? 1 : 0);
}

main();
