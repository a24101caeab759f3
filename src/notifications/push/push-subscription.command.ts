import { z } from 'zod';

const base64url = (bytes: string) => z.string().regex(/^[A-Za-z0-9_-]+={0,2}$/, { message: `must be base64url (${bytes})` });

/** A browser's PushSubscription.toJSON(): endpoint, optional expirationTime, and the RFC 8291 keys. */
export const subscriptionSchema = z.strictObject({
  endpoint: z.url({ message: 'must be a URL' }).max(2048, { message: 'must be at most 2048 characters' }),
  expirationTime: z.number().nullable().optional(),
  keys: z.strictObject({
    // An uncompressed P-256 point (65 bytes) and a 16-byte secret.
    p256dh: base64url('65 bytes').refine((s) => Buffer.from(s, 'base64url').length === 65, { message: 'must be a 65-byte P-256 public key' }),
    auth: base64url('16 bytes').refine((s) => Buffer.from(s, 'base64url').length === 16, { message: 'must be a 16-byte secret' }),
  }),
});
export type SubscriptionInput = z.output<typeof subscriptionSchema>;
