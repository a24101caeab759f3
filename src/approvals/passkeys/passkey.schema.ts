import { z } from 'zod';
import { decisionFields } from '../decision-fields';

const b64url = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]*$/, { message: 'must be base64url' });

/** A WebAuthn assertion as @simplewebauthn/browser's startAuthentication returns it (AuthenticationResponseJSON). */
export const assertionSchema = z.object({
  id: b64url(1366).min(1),
  rawId: b64url(1366).min(1),
  type: z.literal('public-key'),
  response: z.object({
    authenticatorData: b64url(16384).min(1),
    clientDataJSON: b64url(16384).min(1),
    signature: b64url(4096).min(1),
    userHandle: b64url(1024).optional(),
  }),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
});
export type Assertion = z.output<typeof assertionSchema>;

/** A new passkey as startRegistration returns it (RegistrationResponseJSON), with a name the approver may give it. */
export const registrationSchema = z.strictObject({
  /** Once the approver has a passkey: an assertion by one of theirs over a `register` management challenge. */
  proof: assertionSchema.optional(),
  name: z.string().trim().min(1).max(100).optional(),
  response: z.object({
    id: b64url(1366).min(1),
    rawId: b64url(1366).min(1),
    type: z.literal('public-key'),
    response: z.object({
      clientDataJSON: b64url(16384).min(1),
      attestationObject: b64url(65536).min(1),
      transports: z.array(z.string().max(32)).max(10).optional(),
      authenticatorData: b64url(16384).optional(),
      publicKey: b64url(16384).optional(),
      publicKeyAlgorithm: z.number().int().optional(),
    }),
    clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
    authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  }),
});

/** `always`, and to switch it off once the approver has a passkey, an assertion over a `preference` management challenge. */
export const preferenceSchema = z.strictObject({ always: z.boolean({ message: 'must be true or false' }), proof: assertionSchema.optional() });

/** The body of a removal: once the approver has a passkey, an assertion over a `remove` management challenge for that passkey. */
export const removalSchema = z.strictObject({ proof: assertionSchema.optional() });

/** Which change to a passkey set the approver is about to sign: registering, removing `passkey_id`, or switching `always` off. */
export const managementChallengeSchema = z
  .strictObject({
    action: z.enum(['register', 'remove', 'preference'], { message: 'must be register, remove or preference' }),
    passkey_id: z.uuid({ message: 'must be the id of one of your passkeys' }).optional(),
    always: z.literal(false, { message: 'must be false: only switching `always` off needs a proof' }).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.action === 'remove' && !v.passkey_id) ctx.addIssue({ code: 'custom', path: ['passkey_id'], message: 'is required to remove a passkey' });
    if (v.action === 'preference' && v.always !== false)
      ctx.addIssue({ code: 'custom', path: ['always'], message: 'must be false: only switching `always` off needs a proof' });
  });
export type ManagementChallengeInput = z.output<typeof managementChallengeSchema>;

/** What the approver is about to sign: the decision and the reason exactly as the vote will carry them. */
export const decisionChallengeSchema = z.strictObject(decisionFields);
