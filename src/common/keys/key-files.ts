/**
 * Key files on disk: the service's signing keys (a JWKS of private keys, first one signs) and,
 * in demo mode, a development gateway key whose public half is the gateway JWKS. Keys are
 * generated with jose and never committed (.keys/ is git-ignored).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, JWK } from 'jose';
import { generateVAPIDKeys } from 'web-push';

export interface PrivateJwks {
  keys: JWK[];
}

export async function generatePrivateJwk(alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use: 'sig', kid: randomUUID() };
}

/** The public members only, per key type: nothing secret can reach the published JWKS. */
const PUBLIC_MEMBERS: Record<string, string[]> = {
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
  RSA: ['kty', 'n', 'e'],
};
const METADATA = ['kid', 'alg', 'use', 'key_ops'];

export function publicJwk(jwk: JWK): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new Error(`key ${jwk.kid ?? '(no kid)'}: kty "${jwk.kty}" is not an asymmetric signing key`);
  const out: Record<string, unknown> = {};
  for (const m of [...members, ...METADATA]) if ((jwk as Record<string, unknown>)[m] !== undefined) out[m] = (jwk as Record<string, unknown>)[m];
  return out as JWK;
}

export function readJwksFile(path: string): PrivateJwks {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read JWKS file ${path}: ${(e as Error).message}`, { cause: e });
  }
  const keys = (parsed as PrivateJwks)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`JWKS file ${path} has no "keys"`);
  return { keys };
}

function writeSecretJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
}

export interface DevKeyPaths {
  signingKeysFile: string;
  gatewayPrivateKeyFile: string;
  gatewayJwksFile: string;
  /** Web push VAPID pair: {"publicKey", "privateKey"}, base64url. */
  vapidKeysFile: string;
}

export const DEV_GATEWAY_ISSUER = 'countersign-dev';
/** Demo mode trusts agent tokens from this issuer, signed with the same development key. */
export const DEV_AGENT_ISSUER = 'countersign-dev-agents';

/** Creates the demo keys once; later calls reuse them so minted tokens stay valid across restarts. */
export async function ensureDevKeys(dir: string): Promise<DevKeyPaths> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const paths: DevKeyPaths = {
    signingKeysFile: join(dir, 'signing-keys.json'),
    gatewayPrivateKeyFile: join(dir, 'dev-gateway-key.json'),
    gatewayJwksFile: join(dir, 'dev-gateway-jwks.json'),
    vapidKeysFile: join(dir, 'vapid-keys.json'),
  };
  if (!existsSync(paths.signingKeysFile)) {
    writeSecretJson(paths.signingKeysFile, { keys: [await generatePrivateJwk('ES256')] });
  }
  if (!existsSync(paths.gatewayPrivateKeyFile) || !existsSync(paths.gatewayJwksFile)) {
    const key = await generatePrivateJwk('ES256');
    writeSecretJson(paths.gatewayPrivateKeyFile, key);
    writeSecretJson(paths.gatewayJwksFile, { keys: [publicJwk(key)] });
  }
  if (!existsSync(paths.vapidKeysFile)) writeSecretJson(paths.vapidKeysFile, generateVAPIDKeys());
  return paths;
}

export function readVapidKeys(path: string): { publicKey: string; privateKey: string } {
  return JSON.parse(readFileSync(path, 'utf8'));
}
