/**
 * Configuration: every option comes from the environment, has a default (see .env.example)
 * and is validated once at start-up. A bad value stops the process with one line that names
 * the variable and the problem.
 */
import { z } from 'zod';
import { isTimeZone } from './time-zone';
import { parseRateLimit, RATE_LIMIT_FORMAT, RateLimit } from './rate-limit-setting';

/** How the hot statements are prepared (DATABASE_PREPARED_STATEMENTS): see usePreparedStatements. */
export type PreparedStatements = 'session' | 'protocol' | 'off';

const TRUE_WORDS = ['true', '1', 'yes'] as const;
const BOOL_WORDS = [...TRUE_WORDS, 'false', '0', 'no'] as const;
const isTrueWord = (v: string) => (TRUE_WORDS as readonly string[]).includes(v);
const bool = z.enum(BOOL_WORDS, { message: 'must be true or false' }).transform(isTrueWord);

// Decimal digits only: Number() would read " " as 0 and "0x10" or "1e3" as numbers.
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\s*-?\d+\s*$/, { message: 'must be an integer' })
    .transform(Number)
    .pipe(
      z
        .number()
        .int({ message: 'must be an integer' })
        .min(min, { message: `must be at least ${min}` })
        .max(max, { message: `must be at most ${max}` }),
    );

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol.replace(':', ''));
      } catch {
        return false;
      }
    },
    { message: `must be a ${protocols.join(' or ')} URL` },
  );

/** Trusted issuers of agents' tokens: a JSON array of {issuer, jwks_uri | jwks_file}. */
const agentIssuers = z
  .string()
  .transform((v, ctx) => {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of {"issuer", "jwks_uri" or "jwks_file"}' });
      return z.NEVER;
    }
  })
  .pipe(
    z.array(
      z
        .object({ issuer: z.string().min(1), jwks_uri: z.url().optional(), jwks_file: z.string().min(1).optional() })
        .refine((i) => !!i.jwks_uri !== !!i.jwks_file, { message: 'each issuer needs exactly one of jwks_uri and jwks_file' }),
      { message: 'must be a JSON array of {"issuer", "jwks_uri" or "jwks_file"}' },
    ),
  );

/**
 * Token subjects (`sub`), comma-separated. Case-sensitive, exact: an OIDC `sub` is unique and
 * never reassigned within its issuer, so (GATEWAY_ISSUER, sub) names one principal. No wildcards.
 */
const subjects = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(
    z.array(
      z
        .string()
        .regex(/^[\x21-\x7e]{1,255}$/, { message: 'must be a comma-separated list of token subjects (printable, no spaces)' })
        .refine((s) => !s.includes('*'), {
          message: 'must list exact subjects: wildcards are not allowed',
        }),
    ),
  );

/** The subject `npm run token -- --operator` mints, an operator only in demo mode with the dev issuer. */
export const DEMO_OPERATOR_SUBJECT = 'dev-operator';

const timeZone = z.string().refine(isTimeZone, { message: 'must be an IANA time zone, e.g. "Europe/Berlin" or "UTC"' });

/** Per-tenant time zones: a JSON object {"<tenant>": "<IANA zone>"}. */
const tenantTimeZones = z
  .string()
  .transform((v, ctx) => {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object {"<tenant>": "<IANA time zone>"}' });
      return z.NEVER;
    }
  })
  .pipe(
    z.record(z.string().min(1), z.string(), { message: 'must be a JSON object {"<tenant>": "<IANA time zone>"}' }).superRefine((zones, ctx) => {
      for (const [tenant, zone] of Object.entries(zones)) {
        if (!isTimeZone(zone)) ctx.addIssue({ code: 'custom', message: `names an unknown time zone "${zone}" for tenant "${tenant}"` });
      }
    }),
  );

/** A rate limit "<max>/<window>" (e.g. "5000/1s"), or "off": see common/rate-limit. */
const rateLimit = z.string().transform((v, ctx): RateLimit | null => {
  const limit = parseRateLimit(v);
  if (limit === undefined) {
    ctx.addIssue({ code: 'custom', message: RATE_LIMIT_FORMAT });
    return z.NEVER;
  }
  return limit;
});

const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean),
);

export const configSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: int(0, 65535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    PUBLIC_URL: url(['http', 'https']).default('http://localhost:3000'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'log', 'debug', 'verbose']).default('log'),
    LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
    DEMO_MODE: bool.default(false),
    SHUTDOWN_TIMEOUT_MS: int(1000, 600000).default(25000),
    HTTP_HEADERS_TIMEOUT_MS: int(1000, 120000).default(10000),
    HTTP_REQUEST_TIMEOUT_MS: int(1000, 600000).default(120000),
    KEYS_DIR: z.string().min(1).default('.keys'),

    DATABASE_URL: url(['postgres', 'postgresql']).default('postgres://postgres@127.0.0.1:5432/countersign'),
    DATABASE_POOL_SIZE: int(1, 500).default(20),
    /** How long a request waits for a pooled connection before it is answered 503 (never forever). */
    DATABASE_POOL_WAIT_MS: int(100, 600000).default(10000),
    DATABASE_MIGRATE_ON_START: bool.default(true),
    /**
     * The hot statements as prepared statements (common/database/prepared-statements.ts): `true`, in
     * the protocol and in SQL, planned generically per session (a direct connection or session
     * pooling); `protocol`, in the protocol only (PgBouncer 1.21+ in transaction mode, which keeps
     * those but neither SQL PREPAREs nor startup options); `false`, none.
     */
    DATABASE_PREPARED_STATEMENTS: z
      .enum([...BOOL_WORDS, 'protocol'], { message: 'must be true, false or protocol' })
      .transform((v): PreparedStatements => (v === 'protocol' ? 'protocol' : isTrueWord(v) ? 'session' : 'off'))
      .default('session'),

    REDIS_URL: url(['redis', 'rediss']).default('redis://127.0.0.1:6379'),
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, { message: 'may contain only letters, digits, _ and -' })
      .default('countersign'),
    RUN_WORKERS: bool.default(true),
    WORKER_CONCURRENCY: int(1, 1000).default(50),
    RECONCILE_INTERVAL_SECONDS: int(0, 86400).default(60),
    REDIS_LOSS_CHECK_INTERVAL_MS: int(100, 600000).default(5000),
    /** How often a worker looks for outbox events that no local commit woke it for (another process wrote them). */
    OUTBOX_POLL_INTERVAL_MS: int(10, 60000).default(200),
    /** How long a commit's events wait for others to share their batch (the dispatcher's Redis and Postgres round trips are per batch). */
    OUTBOX_LINGER_MS: int(0, 1000).default(10),
    /** Outbox events moved to BullMQ per batch (one Redis round trip per queue). */
    OUTBOX_BATCH_SIZE: int(1, 10000).default(500),

    GATEWAY_JWKS_URL: url(['http', 'https']).optional(),
    GATEWAY_JWKS_FILE: z.string().min(1).optional(),
    GATEWAY_ISSUER: z.string().min(1).optional(),
    GATEWAY_AUDIENCE: z.string().min(1).default('countersign'),
    GATEWAY_TENANT_CLAIM: z.string().min(1).default('tenant'),
    OPERATOR_SUBJECTS: subjects.default([]),

    SIGNING_KEYS_FILE: z.string().min(1).optional(),

    AGENT_ISSUERS: agentIssuers.default([]),
    AGENT_AUDIENCE: z.string().min(1).default('countersign'),
    AGENT_TENANT_CLAIM: z.string().min(1).default('tenant'),
    SESSION_WINDOW_SECONDS: int(1, 86400).default(300),
    TENANT_TIME_ZONE: timeZone.default('UTC'),
    TENANT_TIME_ZONES: tenantTimeZones.default({}),
    DECISION_TIME_SKEW_SECONDS: int(0, 3600).default(30),
    INTERNAL_DOMAINS: list.default([]),
    AUDIT_BATCH_MAX: int(1, 10000).default(500),
    AUDIT_SEAL_INTERVAL_MS: int(10, 60000).default(200),
    AUDIT_CHECKPOINT_INTERVAL_SECONDS: int(0, 86400).default(60),
    AUDIT_CHECKPOINT_FILE: z.string().min(1).optional(),

    APPROVAL_DEFAULT_EXPIRES_IN: int(1, 31 * 24 * 3600).default(600),
    APPROVAL_MAX_EXPIRES_IN: int(1, 31 * 24 * 3600).default(3600),
    APPROVAL_POLL_INTERVAL: int(1, 300).default(5),
    APPROVAL_TOKEN_TTL: int(1, 120).default(60),
    LONG_POLL_MAX_WAIT: int(0, 60).default(60),

    SMTP_URL: url(['smtp', 'smtps']).optional(),
    MAIL_FROM: z.string().min(3).default('Countersign <approvals@countersign.localhost>'),
    VAPID_PUBLIC_KEY: z
      .string()
      .regex(/^[A-Za-z0-9_-]{87}$/, { message: 'must be a base64url P-256 public key (npm run vapid)' })
      .optional(),
    VAPID_PRIVATE_KEY: z
      .string()
      .regex(/^[A-Za-z0-9_-]{43}$/, { message: 'must be a base64url P-256 private key (npm run vapid)' })
      .optional(),
    VAPID_SUBJECT: z
      .string()
      .regex(/^(mailto:|https:)/, { message: 'must be a mailto: or https: URI (RFC 8292)' })
      .default('mailto:security@countersign.localhost'),
    PUSH_SERVICE_HOSTS: list.default([
      'fcm.googleapis.com',
      'updates.push.services.mozilla.com',
      'web.push.apple.com',
      '*.push.apple.com',
      '*.notify.windows.com',
    ]),
    PUSH_CA_FILE: z.string().min(1).optional(),
    NOTIFY_MAX_ATTEMPTS: int(1, 50).default(6),
    NOTIFY_BACKOFF_MS: int(10, 600000).default(2000),
    NOTIFY_TIMEOUT_MS: int(100, 60000).default(10000),

    CALLBACK_ALLOWED_HOSTS: list.default([]),
    CALLBACK_ALLOW_HTTP: bool.default(false),
    CALLBACK_TIMEOUT_MS: int(100, 60000).default(5000),
    CALLBACK_MAX_ATTEMPTS: int(1, 50).default(8),
    CALLBACK_BACKOFF_MS: int(10, 600000).default(2000),

    // Generous by default: they stop a runaway or hostile caller, not a busy honest one.
    RATE_LIMIT_GATEWAY: rateLimit.default({ max: 5000, windowMs: 1000 }),
    RATE_LIMIT_CIBA_CLIENT: rateLimit.default({ max: 1000, windowMs: 1000 }),
    RATE_LIMIT_APPROVER_LINK: rateLimit.default({ max: 120, windowMs: 60_000 }),

    // Passkeys (WebAuthn): the relying party approvers' passkeys are bound to. Unset: PUBLIC_URL's host and origin.
    WEBAUTHN_RP_ID: z
      .string()
      .regex(/^(localhost|([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63})$/i, {
        message: "must be a domain name (the approval page's host or a parent of it), no scheme or port",
      })
      .optional(),
    WEBAUTHN_ORIGINS: z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .pipe(z.array(url(['http', 'https'])))
      .optional(),
    WEBAUTHN_RP_NAME: z.string().min(1).max(64).default('Countersign'),
  })
  .superRefine((c, ctx) => {
    // A long-poll is one request of up to LONG_POLL_MAX_WAIT seconds: the request timeout must outlast it.
    if (c.HTTP_REQUEST_TIMEOUT_MS < c.LONG_POLL_MAX_WAIT * 1000 + 10000) {
      ctx.addIssue({
        code: 'custom',
        path: ['HTTP_REQUEST_TIMEOUT_MS'],
        message: `must be at least LONG_POLL_MAX_WAIT + 10 s (${c.LONG_POLL_MAX_WAIT * 1000 + 10000}), or long-polls are cut off`,
      });
    }
    if (c.HTTP_HEADERS_TIMEOUT_MS > c.HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['HTTP_HEADERS_TIMEOUT_MS'], message: `must not exceed HTTP_REQUEST_TIMEOUT_MS (${c.HTTP_REQUEST_TIMEOUT_MS})` });
    }
    if (c.APPROVAL_DEFAULT_EXPIRES_IN > c.APPROVAL_MAX_EXPIRES_IN) {
      ctx.addIssue({
        code: 'custom',
        path: ['APPROVAL_DEFAULT_EXPIRES_IN'],
        message: `must not exceed APPROVAL_MAX_EXPIRES_IN (${c.APPROVAL_MAX_EXPIRES_IN})`,
      });
    }
    if (!!c.VAPID_PUBLIC_KEY !== !!c.VAPID_PRIVATE_KEY) {
      const missing = c.VAPID_PUBLIC_KEY ? 'VAPID_PRIVATE_KEY' : 'VAPID_PUBLIC_KEY';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'is required when the other VAPID key is set (npm run vapid)' });
    }
    if (!c.DEMO_MODE) {
      if (!c.GATEWAY_JWKS_URL && !c.GATEWAY_JWKS_FILE) {
        ctx.addIssue({ code: 'custom', path: ['GATEWAY_JWKS_URL'], message: 'is required (or GATEWAY_JWKS_FILE) unless DEMO_MODE=true' });
      }
      if (!c.GATEWAY_ISSUER) {
        ctx.addIssue({ code: 'custom', path: ['GATEWAY_ISSUER'], message: 'is required unless DEMO_MODE=true' });
      }
      if (!c.SIGNING_KEYS_FILE) {
        ctx.addIssue({ code: 'custom', path: ['SIGNING_KEYS_FILE'], message: 'is required unless DEMO_MODE=true (generate one with npm run keys)' });
      }
    }
  })
  // Demo mode trusts only its own development issuer: its operator token (npm run token -- --operator) is an operator there.
  .transform((c) => (c.DEMO_MODE && !c.GATEWAY_ISSUER && !c.OPERATOR_SUBJECTS.length ? { ...c, OPERATOR_SUBJECTS: [DEMO_OPERATOR_SUBJECT] } : c));

export type AppConfig = z.output<typeof configSchema>;

/** The WebAuthn relying party: WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS, or PUBLIC_URL's host and origin. */
export function webAuthnRelyingParty(c: Pick<AppConfig, 'PUBLIC_URL' | 'WEBAUTHN_RP_ID' | 'WEBAUTHN_ORIGINS' | 'WEBAUTHN_RP_NAME'>): {
  id: string;
  name: string;
  origins: string[];
} {
  const publicUrl = new URL(c.PUBLIC_URL);
  return {
    id: c.WEBAUTHN_RP_ID ?? publicUrl.hostname,
    name: c.WEBAUTHN_RP_NAME,
    origins: c.WEBAUTHN_ORIGINS?.length ? c.WEBAUTHN_ORIGINS.map((o) => new URL(o).origin) : [publicUrl.origin],
  };
}

export class ConfigError extends Error {}

/** Parses the environment; throws a ConfigError whose message is one line per bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const input: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    // An empty variable means "use the default", as in most twelve-factor services.
    if (v !== undefined && v !== '') input[k] = v;
  }
  const result = configSchema.safeParse(input);
  if (!result.success) {
    // One line per bad variable (its first problem), in the order zod found them.
    const lines = new Map<string, string>();
    for (const issue of result.error.issues) {
      const name = String(issue.path[0] ?? 'configuration');
      if (lines.has(name)) continue;
      const value = input[name];
      const shown = value === undefined ? 'missing' : `got "${display(value)}"`;
      lines.set(name, `invalid configuration: ${name} ${issue.message} (${shown})`);
    }
    throw new ConfigError([...lines.values()].join('\n'));
  }
  return result.data;
}

/** A value as the error shows it: one line, short, and without URL credentials (never log a password). */
function display(value: string): string {
  const oneLine = value.replace(/[\u0000-\u001f\u007f]/g, '?').replace(/\/\/[^/@]*@/, '//***@');
  return oneLine.length > 60 ? oneLine.slice(0, 60) + '…' : oneLine;
}

export const APP_CONFIG = Symbol('APP_CONFIG');
