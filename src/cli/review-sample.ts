import { sampleOf } from '../authz/reviews/review-sample';
import { cliFlags } from './cli-args';

const USAGE = `npm run -s review:sample -- --tenant <id> --decision <dec_…> [--decision <dec_…>]… [--rate <(0, 1]>]`;

/**
 * An auditor's recomputation of sampled review (README, "Sampled post-execution review"): for each
 * decision id, its sample value and, with --rate, whether it is sampled. Needs no service, no key
 * and no database: the sample is a hash of the tenant and the decision id. One JSON line per id.
 */
function main(): void {
  const flags = cliFlags(USAGE, { tenant: { type: 'string' }, decision: { type: 'string', multiple: true }, rate: { type: 'string' } });
  const decisions = (flags.decision as unknown as string[] | undefined) ?? [];
  if (!flags.tenant || !decisions.length) throw new Error('--tenant and at least one --decision are required');
  const rate = flags.rate === undefined ? undefined : Number(flags.rate);
  if (rate !== undefined && !(rate > 0 && rate <= 1)) throw new Error('--rate must be a number in (0, 1]');
  for (const decision of decisions) {
    const sample = sampleOf(String(flags.tenant), decision);
    process.stdout.write(
      `${JSON.stringify({ tenant: flags.tenant, decision_id: decision, sample, ...(rate !== undefined ? { rate, sampled: sample < rate } : {}) })}\n`,
    );
  }
}

try {
  main();
} catch (e) {
  process.stderr.write(`${(e as Error).message}\nusage: ${USAGE}\n`);
  process.exit(2);
}
