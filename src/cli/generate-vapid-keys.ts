import { generateVAPIDKeys } from 'web-push';

/**
 * npm run vapid
 * Prints a new VAPID key pair (RFC 8292) for web push, as the two environment lines to set.
 * The private key is a secret: put it in your secret store, not in the repository. Changing the
 * pair invalidates every existing push subscription (browsers bind them to the public key).
 */
const { publicKey, privateKey } = generateVAPIDKeys();
process.stdout.write(`VAPID_PUBLIC_KEY=${publicKey}\nVAPID_PRIVATE_KEY=${privateKey}\n`);
