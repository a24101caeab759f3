import { readFileSync } from 'node:fs';
import { importJWK, JWK, SignJWT } from 'jose';
import { OPERATOR_SCOPE } from '../common/auth/auth.decorators';
import { DEMO_OPERATOR_SUBJECT, loadConfig } from '../config/app-config';
import { DEV_AGENT_ISSUER, DEV_GATEWAY_ISSUER, ensureDevKeys } from '../common/keys/key-files';
import { cliFlags } from './cli-args';

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
  const config = loadConfig({ ...process.env, DEMO_MODE: 'true' });
  const paths = await ensureDevKeys(config.KEYS_DIR);
  const jwk = JSON.parse(readFileSync(paths.gatewayPrivateKeyFile, 'utf8')) as JWK;
  const key = await importJWK(jwk, jwk.alg);
  let jwt: SignJWT;
  if (flags.agent) {
    if (!flags.human) throw new Error('--human is required with --agent');
    const chain = [String(flags.agent), ...((flags.via as unknown as string[] | undefined) ?? [])];
    const act = chain.reduceRight<Record<string, unknown> | undefined>((inner, sub) => (inner ? { sub, act: inner } : { sub }), undefined);
    jwt = new SignJWT({ [config.AGENT_TENANT_CLAIM]: flags.tenant, act, agent_class: flags.class ?? 'agent', trust_level: flags.trust })
      .setIssuer(DEV_AGENT_ISSUER)
      .setAudience(config.AGENT_AUDIENCE)
      .setSubject(String(flags.human));
  } else {
    jwt = new SignJWT({ [config.GATEWAY_TENANT_CLAIM]: flags.tenant, ...(flags.scope ? { scope: flags.scope } : {}) })
      .setIssuer(config.GATEWAY_ISSUER ?? DEV_GATEWAY_ISSUER)
      .setAudience(config.GATEWAY_AUDIENCE)
      .setSubject(String(flags.sub));
  }
  const token = await jwt
    .setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid, typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(`${Number(flags.ttl)}s`)
    .sign(key);
  process.stdout.write(`${token}\n`);
}

void main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\nusage: ${USAGE}\n`);
  process.exit(2);
});
