import { existsSync, writeFileSync } from 'node:fs';
import { generatePrivateJwk } from '../common/keys/key-files';
import { cliFlags } from './cli-args';

/**
 * npm run keys -- --out signing-keys.json [--alg ES256|EdDSA]
 * Writes a new private signing key (a JWKS with one key) for SIGNING_KEYS_FILE. To rotate, put
 * the new key first in the file and keep the old one until its tokens have expired.
 */
async function main(): Promise<void> {
  const flags = cliFlags('npm run keys -- --out <file> [--alg ES256|EdDSA]', {
    out: { type: 'string' },
    alg: { type: 'string', default: 'ES256' },
  });
  if (!flags.out) {
    process.stderr.write('--out is required\n');
    process.exit(2);
  }
  if (flags.alg !== 'ES256' && flags.alg !== 'EdDSA') {
    process.stderr.write('--alg must be ES256 or EdDSA\n');
    process.exit(2);
  }
  if (existsSync(String(flags.out))) {
    process.stderr.write(`${flags.out} exists; refusing to overwrite a key\n`);
    process.exit(1);
  }
  const key = await generatePrivateJwk(flags.alg);
  writeFileSync(String(flags.out), JSON.stringify({ keys: [key] }, null, 2) + '\n', { mode: 0o600 });
  process.stdout.write(`wrote ${flags.out} (kid ${key.kid})\n`);
}

void main();
