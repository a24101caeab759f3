import { readFileSync } from 'node:fs';
import { importJWK, JWK, SignJWT } from 'jose';
import { loadConfig } from '../config/app-config';
import { DEV_GATEWAY_ISSUER, ensureDevKeys } from '../common/keys/key-files';
import { cliFlags } from './cli-args';

/**
 * npm run token -- --tenant acme [--sub gateway-1] [--ttl 3600]
 * Mints a gateway bearer token from the development key (created on first use in KEYS_DIR), so
 * the README tour works without an identity provider. Demo mode trusts exactly this key.
 */
async function main(): Promise<void> {
  const flags = cliFlags('npm run token -- --tenant <id> [--sub <gateway id>] [--ttl <seconds>]', {
    tenant: { type: 'string', default: 'demo' },
    sub: { type: 'string', default: 'dev-gateway' },
    ttl: { type: 'string', default: '3600' },
  });
  const config = loadConfig({ ...process.env, DEMO_MODE: 'true' });
  const paths = await ensureDevKeys(config.KEYS_DIR);
  const jwk = JSON.parse(readFileSync(paths.gatewayPrivateKeyFile, 'utf8')) as JWK;
  const token = await new SignJWT({ [config.GATEWAY_TENANT_CLAIM]: flags.tenant })
    .setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid, typ: 'JWT' })
    .setIssuer(config.GATEWAY_ISSUER ?? DEV_GATEWAY_ISSUER)
    .setAudience(config.GATEWAY_AUDIENCE)
    .setSubject(String(flags.sub))
    .setIssuedAt()
    .setExpirationTime(`${Number(flags.ttl)}s`)
    .sign(await importJWK(jwk, jwk.alg));
  process.stdout.write(`${token}\n`);
}

void main();
