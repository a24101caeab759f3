import { randomUUID } from 'node:crypto';
import { APPROVER_LINK_AUDIENCE, APPROVER_LINK_TYP } from '../../src/common/auth/approver-link.verifier';
import { SigningKeys } from '../../src/common/keys/signing-keys.service';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importJWK, JWK, SignJWT } from 'jose';
import { DevKeyPaths, ensureDevKeys } from '../../src/common/keys/key-files';

export const TEST_KEYS_DIR = join(tmpdir(), 'countersign-test-keys');
export const TEST_GATEWAY_ISSUER = 'https://idp.test.example';
export const TEST_GATEWAY_AUDIENCE = 'countersign';
export const TEST_AGENT_ISSUER = 'https://agents.test.example';

export function prepareTestKeys(): Promise<DevKeyPaths> {
  return ensureDevKeys(TEST_KEYS_DIR);
}

let gatewayKey: JWK | undefined;

/** A gateway bearer token, as an identity provider would issue it. */
export async function gatewayToken(
  claims: { tenant?: string; sub?: string; [k: string]: unknown } = {},
  options: { issuer?: string; audience?: string; expiresIn?: string; key?: JWK } = {},
): Promise<string> {
  const paths = await prepareTestKeys();
  gatewayKey ??= JSON.parse(readFileSync(paths.gatewayPrivateKeyFile, 'utf8')) as JWK;
  const key = options.key ?? gatewayKey;
  const { sub = 'gateway-1', tenant = 'acme', ...rest } = claims;
  return new SignJWT({ tenant, ...rest })
    .setProtectedHeader({ alg: key.alg!, kid: key.kid })
    .setIssuer(options.issuer ?? TEST_GATEWAY_ISSUER)
    .setAudience(options.audience ?? TEST_GATEWAY_AUDIENCE)
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '10m')
    .sign(await importJWK(key, key.alg));
}

/**
 * An agent's token (RFC 8693): sub = the human; act = the agents, current one first
 * (outermost), each earlier agent nested inside.
 */
export async function agentToken(
  opts: {
    human?: string;
    actors: string[];
    tenant?: string;
    trust?: string;
    agentClass?: string;
    expiresIn?: string;
    issuer?: string;
    audience?: string;
    /** Extra claims of an actor's own `act` claim (e.g. an upstream actor's agent_class, trust_level), by actor id. */
    actClaims?: Record<string, Record<string, unknown>>;
    /** Extra top-level claims (e.g. the current actor's `operator`). */
    claims?: Record<string, unknown>;
  },
  key?: JWK,
): Promise<string> {
  const paths = await prepareTestKeys();
  gatewayKey ??= JSON.parse(readFileSync(paths.gatewayPrivateKeyFile, 'utf8')) as JWK;
  const k = key ?? gatewayKey;
  const act = opts.actors.reduceRight<Record<string, unknown> | undefined>(
    (inner, sub) => ({ ...opts.actClaims?.[sub], sub, ...(inner ? { act: inner } : {}) }),
    undefined,
  );
  return new SignJWT({
    ...opts.claims,
    tenant: opts.tenant ?? 'acme',
    act,
    agent_class: opts.agentClass ?? 'assistant',
    trust_level: opts.trust ?? 'first_party_certified',
  })
    .setProtectedHeader({ alg: k.alg!, kid: k.kid })
    .setIssuer(opts.issuer ?? TEST_AGENT_ISSUER)
    .setAudience(opts.audience ?? 'countersign')
    .setSubject(opts.human ?? 'alice')
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '10m')
    .sign(await importJWK(k, k.alg));
}

/**
 * A link signed by the service's own key for anyone, eligible or not: what a stale link, or one
 * forged by an insider with the key, looks like. Tests use it to check that eligibility is enforced.
 */
export async function signedLink(
  app: { get(type: typeof SigningKeys): SigningKeys },
  opts: { tenant?: string; id: string; approver: string; extra?: Record<string, unknown>; expiresAt?: Date },
): Promise<string> {
  return app.get(SigningKeys).sign(
    { tenant: opts.tenant ?? 'acme', auth_req_id: opts.id, ...opts.extra },
    {
      typ: APPROVER_LINK_TYP,
      audience: APPROVER_LINK_AUDIENCE,
      subject: opts.approver,
      expiresAt: opts.expiresAt ?? new Date(Date.now() + 60_000),
      jti: randomUUID(),
    },
  );
}
