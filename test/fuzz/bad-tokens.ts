import { createPrivateKey, createPublicKey, sign as signBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { exportJWK, generateKeyPair, importJWK, JWK, SignJWT } from 'jose';
import { prepareTestKeys, TEST_GATEWAY_AUDIENCE, TEST_GATEWAY_ISSUER } from '../support/keys';

/**
 * Bearer credentials that must not authenticate, one per way a JWT goes wrong. `mustReject`
 * says whether every secured endpoint has to answer 401 to it; the others are reported when
 * accepted (issue 14: `iat` in the future and a `kid`-less token are accepted today).
 */
export interface BadToken {
  kind: string;
  token: string;
  mustReject: boolean;
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export async function badTokens(validGateway: string, validLink: string): Promise<BadToken[]> {
  const paths = await prepareTestKeys();
  const key = JSON.parse(readFileSync(paths.gatewayPrivateKeyFile, 'utf8')) as JWK;
  const publicJwks = readFileSync(paths.gatewayJwksFile, 'utf8');
  const signingKey = await importJWK(key, key.alg);
  const now = Math.floor(Date.now() / 1000);
  const claims = { tenant: 'acme', scope: 'countersign:admin countersign:audit countersign:delegations countersign:operator' };
  // Claims set as given (not through SignJWT's setters, which would overwrite exp, iat, iss, aud).
  const sign = (payload: Record<string, unknown>, header: Record<string, unknown> = {}, k = signingKey, alg = key.alg!) =>
    new SignJWT({ ...claims, iss: TEST_GATEWAY_ISSUER, aud: TEST_GATEWAY_AUDIENCE, sub: 'gateway-1', iat: now, exp: now + 600, ...payload })
      .setProtectedHeader({ alg, kid: key.kid, ...header })
      .sign(k);

  const [header, payload, signature] = validGateway.split('.');
  const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const stranger = await generateKeyPair('ES256', { extractable: true });
  const strangerRsa = await generateKeyPair('RS256', { extractable: true });
  const pem = createPublicKey({ key: JSON.parse(publicJwks).keys[0], format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
  const hmac = (secret: string) => new SignJWT({ ...decoded }).setProtectedHeader({ alg: 'HS256', kid: key.kid }).sign(new TextEncoder().encode(secret));

  // Signed by hand: jose refuses to sign what it would refuse to verify.
  const privateKey = createPrivateKey({ key: key as any, format: 'jwk' });
  const rawSign = (h: Record<string, unknown>, p: Record<string, unknown>) => {
    const input = `${b64(h)}.${b64(p)}`;
    return `${input}.${signBytes('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };

  const tokens: BadToken[] = [
    { kind: 'alg none', token: `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`, mustReject: true },
    { kind: 'alg none, kid kept', token: `${b64({ alg: 'none', kid: key.kid })}.${payload}.`, mustReject: true },
    { kind: 'alg NONE', token: `${b64({ alg: 'NONE' })}.${payload}.${signature}`, mustReject: true },
    { kind: 'HS256 with the public JWKS', token: await hmac(publicJwks), mustReject: true },
    { kind: 'HS256 with the public PEM', token: await hmac(pem), mustReject: true },
    { kind: 'HS256 with the public JWK', token: await hmac(JSON.stringify(JSON.parse(publicJwks).keys[0])), mustReject: true },
    { kind: 'wrong kid', token: await sign({}, { kid: 'not-a-key' }), mustReject: true },
    { kind: 'kid path traversal', token: await sign({}, { kid: '../../../../dev/null' }), mustReject: true },
    { kind: 'kid SQL', token: await sign({}, { kid: "' OR 1=1 --" }), mustReject: true },
    { kind: 'expired', token: await sign({ exp: now - 3600, iat: now - 7200 }), mustReject: true },
    { kind: 'not yet valid', token: await sign({ nbf: now + 3600 }), mustReject: true },
    { kind: 'iat in the future', token: await sign({ iat: now + 3600 }), mustReject: false },
    { kind: 'no kid', token: await new SignJWT({ ...decoded }).setProtectedHeader({ alg: key.alg! }).sign(signingKey), mustReject: false },
    { kind: 'wrong issuer', token: await sign({ iss: 'https://evil.example' }), mustReject: true },
    { kind: 'wrong audience', token: await sign({ aud: 'someone-else' }), mustReject: true },
    {
      kind: 'no exp',
      token: await new SignJWT({ ...claims, sub: 'gateway-1', iss: TEST_GATEWAY_ISSUER, aud: TEST_GATEWAY_AUDIENCE })
        .setProtectedHeader({ alg: key.alg!, kid: key.kid })
        .sign(signingKey),
      mustReject: true,
    },
    { kind: 'tenant not a string', token: await sign({ tenant: { $ne: null } }), mustReject: true },
    { kind: 'tenant with NUL', token: await sign({ tenant: 'acme\u0000' }), mustReject: true },
    { kind: 'tenant too long', token: await sign({ tenant: 'a'.repeat(65) }), mustReject: true },
    { kind: 'crit header', token: rawSign({ alg: 'ES256', kid: key.kid, crit: ['x-unknown'], 'x-unknown': 1 }, decoded), mustReject: true },
    { kind: 'jku header', token: `${b64({ alg: 'ES256', jku: 'http://169.254.169.254/jwks', kid: 'x' })}.${payload}.${signature}`, mustReject: true },
    {
      kind: 'embedded jwk',
      token: await sign({}, { jwk: await exportJWK(stranger.publicKey), kid: 'stranger' }, stranger.privateKey, 'ES256'),
      mustReject: true,
    },
    { kind: 'unknown ES256 key', token: await sign({}, { kid: 'stranger' }, stranger.privateKey, 'ES256'), mustReject: true },
    { kind: 'unknown RS256 key, our kid', token: await sign({}, {}, strangerRsa.privateKey, 'RS256'), mustReject: true },
    { kind: 'tampered payload', token: `${header}.${b64({ ...decoded, tenant: 'globex' })}.${signature}`, mustReject: true },
    { kind: 'tampered scope', token: `${header}.${b64({ ...decoded, scope: 'countersign:operator' })}.${signature}`, mustReject: true },
    { kind: 'tampered header', token: `${b64({ alg: 'ES384', kid: key.kid })}.${payload}.${signature}`, mustReject: true },
    { kind: 'signature stripped', token: `${header}.${payload}.`, mustReject: true },
    { kind: 'signature truncated', token: `${header}.${payload}.${signature.slice(0, 20)}`, mustReject: true },
    { kind: 'two segments', token: `${header}.${payload}`, mustReject: true },
    { kind: 'four segments', token: `${validGateway}.x`, mustReject: true },
    { kind: 'JWE-shaped', token: `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`, mustReject: true },
    { kind: 'payload not JSON', token: `${header}.${b64('not json')}.${signature}`, mustReject: true },
    { kind: 'payload an array', token: `${header}.${b64([1, 2])}.${signature}`, mustReject: true },
    { kind: 'header not JSON', token: `${b64('{{')}.${payload}.${signature}`, mustReject: true },
    { kind: 'garbage', token: 'garbage', mustReject: true },
    { kind: 'dots', token: '..', mustReject: true },
    { kind: 'huge', token: `${header}.${b64({ ...decoded, pad: 'x'.repeat(200_000) })}.${signature}`, mustReject: true },
    { kind: 'approver link as a gateway token', token: validLink, mustReject: true },
  ];
  return tokens;
}

/** Authorization header values that are not a bearer token at all. */
export const BAD_AUTHORIZATION_HEADERS = [
  '',
  'Bearer',
  'Bearer ',
  'bearer  x',
  'Basic Zm9vOmJhcg==',
  'Basic',
  'Basic !!!',
  'Basic ' + Buffer.from('fuzz-ciba:wrong').toString('base64'),
  'Basic ' + Buffer.from('no-colon').toString('base64'),
  'Basic ' + Buffer.from('%zz:%').toString('base64'),
  'Digest username="x"',
  'Bearer a b c',
  'Bearer ' + 'A'.repeat(20_000),
  'Bearer eyJ\u00ff',
];
