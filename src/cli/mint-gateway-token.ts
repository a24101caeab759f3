import { OPERATOR_SCOPE } from '../common/auth/auth.decorators';
import { DEMO_OPERATOR_SUBJECT } from '../config/app-config';
import { cliFlags } from './cli-args';
import { mintDevToken } from './dev-tokens';

const USAGE = `npm run -s token -- --tenant <id> [--sub <gateway id>] [--scope "countersign:admin countersign:delegations"] [--ttl <s>]
npm run -s token -- --operator [--sub <operator subject>] [--ttl <s>]
npm run -s token -- --agent <agent id> --human <user id> [--via <parent agent>]… [--class <c>] [--trust <level>] --tenant <id>`;

/**
 * Mints tokens from the development key (created on first use in KEYS_DIR), so the README tour
 * works without an identity provider; demo mode trusts exactly this key.
 * - a gateway token (the default): tenant claim, optional OAuth scopes;
 * - with --operator: a gateway token with the countersign:operator scope for the demo operator
 *   (metrics, /admin/queues), which demo mode lists in OPERATOR_SUBJECTS;
 * - with --agent: an agent token (RFC 8693): sub = the human, act = the agent, then each --via
 *   parent agent nested inside, as a delegation chain would be.
 */
async function main(): Promise<void> {
  const flags = cliFlags(USAGE, {
    tenant: { type: 'string', default: 'demo' },
    sub: { type: 'string' },
    scope: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
    agent: { type: 'string' },
    human: { type: 'string' },
    via: { type: 'string', multiple: true },
    class: { type: 'string' },
    trust: { type: 'string', default: 'first_party_certified' },
    operator: { type: 'boolean' },
  });
  if (flags.operator) {
    if (flags.scope) throw new Error('--operator sets the scope itself');
    flags.scope = OPERATOR_SCOPE;
  }
  flags.sub ??= flags.operator ? DEMO_OPERATOR_SUBJECT : 'dev-gateway';
  const token = await mintDevToken({
    tenant: String(flags.tenant),
    sub: String(flags.sub),
    scope: flags.scope ? String(flags.scope) : undefined,
    ttlSeconds: Number(flags.ttl),
    agentChain: flags.agent ? [String(flags.agent), ...((flags.via as unknown as string[] | undefined) ?? [])] : undefined,
    human: flags.human ? String(flags.human) : undefined,
    agentClass: flags.class ? String(flags.class) : undefined,
    trustLevel: String(flags.trust),
  });
  process.stdout.write(`${token}\n`);
}

void main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\nusage: ${USAGE}\n`);
  process.exit(2);
});
