import { z } from 'zod';
import { envelopeParts } from '../approvals/park-approval.command';
import { id, text } from '../common/validation';

/**
 * The authorization context envelope (DESIGN.md) a gateway sends for every tool call. Who the
 * agent is, whom it acts for and its trust level come from the verified agent token, never
 * from fields the gateway could fill in.
 */
export const authorizeSchema = z.strictObject({
  agent: z.strictObject({
    /** The agent's JWT: sub = the originating human, nested act = the agents, current one outermost. */
    token: z
      .string()
      .min(1, { message: 'must not be empty' })
      .max(16 * 1024, { message: 'must be at most 16 KiB' }),
  }),
  action: z.strictObject({
    server: id,
    tool: id,
    method: id.default('tools/call'),
    arguments: envelopeParts.toolCall.shape.arguments,
  }),
  intent: envelopeParts.intent,
  resource: envelopeParts.resource,
  environment: envelopeParts.environment,
  /** The agent's stated reason for access; some policies require it. */
  reason: text(2000).optional(),
  /** The gateway's own risk signals, e.g. {"signals": ["new_device"], "network": "tor"}. */
  risk: z
    .strictObject({
      signals: z
        .array(
          z
            .string()
            .min(1)
            .max(64)
            .regex(/^[a-z0-9_.:-]+$/, { message: 'must be lower-case identifiers' }),
        )
        .max(50)
        .default([]),
      network: text(64).optional(),
    })
    .default({ signals: [] }),
  /**
   * When the gateway observed the call (RFC 3339 with a zone, e.g. "2026-12-07T04:29:58.120Z"). The
   * decision time when within DECISION_TIME_SKEW_SECONDS of the service's clock; audited either way.
   */
  observed_at: z.iso.datetime({ offset: true, message: 'must be an RFC 3339 date-time with a time zone, e.g. "2026-12-07T04:29:58Z"' }).optional(),
  /** How the gateway wants to learn the outcome when the call is parked for approval. */
  delivery: envelopeParts.delivery,
  correlation: envelopeParts.correlation,
});

export type AuthorizeInput = z.output<typeof authorizeSchema>;
