/**
 * Sampled post-execution review (issue 15): an allowed call whose policy asks for a sampled review
 * is, when the sample (review-sample.ts) picks it, queued for its reviewers; the notifications part
 * tells them (outbox topic review.sampled) and shows the page where they answer "looks right" or
 * "flag". A flag is a risk signal for the agent (`context.agent_flags`) and ends the autonomy
 * streak of its kind of call (autonomy.service.ts). Every step is audited: review.sampled,
 * review.notified, review.reviewed.
 */
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { AuditLog } from '../../audit/audit-log.service';
import { insertStatement } from '../../common/database/insert-statement';
import { Outbox } from '../../common/outbox/outbox.service';
import type { CallFacts } from '../policy/cedar-schema';
import type { AgentFlags } from '../policy/history-facts';
import type { SampledReviewObligation } from '../policy/policy-engine';
import { REVIEW_SAMPLED, REVIEW_TTL_SECONDS } from './review-events';
import { sampleOf } from './review-sample';
import { ReviewAnswer, SampledReview } from './sampled-review.entity';

/** A review as the other parts see it (they name no entity of ours). */
export type ReviewRow = SampledReview;
export type { ReviewAnswer };

/** What /v1/authorize and the decision's audit event say about the sample. */
export interface SampleOutcome {
  sampled: boolean;
  rate: number;
  /** The call's sample value: sampled when below the rate (review-sample.ts says how to recompute it). */
  sample: number;
  review_id?: string;
}

export interface SampledCall {
  tenantId: string;
  decisionId: string;
  obligation: SampledReviewObligation;
  facts: CallFacts;
  arguments: Record<string, unknown>;
  resourceId: string | null;
  mcpSessionId: string | null;
}

export type AnswerOutcome = { ok: true; review: SampledReview } | { ok: false; status: 404 | 409 | 410; message: string };

@Injectable()
export class SampledReviews {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly outbox: Outbox,
  ) {}

  /** Draws the call's sample; a sampled call's review, its outbox event and its audit event commit in one statement. */
  async sample(call: SampledCall): Promise<SampleOutcome> {
    const { rate, reviewers } = call.obligation;
    const sample = sampleOf(call.tenantId, call.decisionId);
    if (!(sample < rate)) return { sampled: false, rate, sample };
    const f = call.facts;
    const review: Partial<SampledReview> = {
      id: `rev_${randomUUID()}`,
      tenantId: call.tenantId,
      decisionId: call.decisionId,
      rate,
      sample,
      reviewers,
      agentId: f.agent_id,
      agentClass: f.agent_class,
      delegatorId: f.human,
      server: f.server,
      tool: f.tool,
      arguments: call.arguments,
      resourceId: call.resourceId,
      resourceClassification: f.resource_classification,
      environment: f.environment,
      mcpSessionId: call.mcpSessionId,
      status: 'pending',
      expiresAt: new Date(Date.now() + REVIEW_TTL_SECONDS * 1000),
    };
    const row = insertStatement(this.dataSource, SampledReview, [review]);
    const params = [...row.params];
    const event = this.outbox.insertStatement([{ topic: REVIEW_SAMPLED, payload: { tenantId: call.tenantId, reviewId: review.id } }], params.length);
    params.push(...event.params);
    const audited = this.audit.insertStatement(
      [
        {
          tenantId: call.tenantId,
          type: 'review.sampled',
          actor: 'system',
          agentId: f.agent_id,
          delegatorId: f.human,
          mcpSessionId: call.mcpSessionId,
          data: { review_id: review.id!, decision_id: call.decisionId, rate, sample, reviewers, expires_at: review.expiresAt!.toISOString() },
        },
      ],
      params.length,
    );
    params.push(...audited.params);
    await this.dataSource.query(`WITH review AS (${row.sql}), event AS (${event.sql}) ${audited.sql}`, params);
    this.outbox.committed();
    return { sampled: true, rate, sample, review_id: review.id };
  }

  get(tenantId: string, id: string): Promise<SampledReview | null> {
    return this.dataSource.manager.findOne(SampledReview, { where: { tenantId, id } });
  }

  /**
   * Once the reviewers' deliveries are owed: stamped once, audited with who is told on which
   * channel, and `owe` writes the deliveries in the same transaction. False (and nothing written)
   * when the review was stamped already, so a job that runs twice owes nothing twice.
   */
  async notified(
    review: SampledReview,
    data: { recipients: string[]; deliveries: { reviewer: string; channel: string }[]; unreachable: string[] },
    owe: (manager: EntityManager) => Promise<void>,
  ): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const stamped: unknown[] = await manager.query(
        `WITH stamped AS (UPDATE sampled_reviews SET notified_at = now() WHERE id = $1 AND tenant_id = $2 AND notified_at IS NULL RETURNING id) SELECT id FROM stamped`,
        [review.id, review.tenantId],
      );
      if (!stamped.length) return false;
      await owe(manager);
      await this.audit.append(manager, {
        tenantId: review.tenantId,
        type: 'review.notified',
        actor: 'system',
        agentId: review.agentId,
        delegatorId: review.delegatorId,
        data: { review_id: review.id, ...data },
      });
      return true;
    });
  }

  /** The reviewer's answer: once per review (the first answer stands), before it expires; audited in the same transaction. */
  async answer(cmd: { tenantId: string; reviewId: string; reviewerId: string; jti: string; answer: ReviewAnswer; reason: string }): Promise<AnswerOutcome> {
    return this.dataSource.transaction(async (manager) => {
      // Wrapped in a SELECT: TypeORM answers a bare UPDATE with [rows, count], not the rows.
      const rows: Record<string, unknown>[] = await manager.query(
        `WITH answered AS (UPDATE sampled_reviews SET status = $1, reason = $2, reviewed_by = $3, link_jti = $4, reviewed_at = now()
          WHERE id = $5 AND tenant_id = $6 AND status = 'pending' AND expires_at > now() RETURNING id) SELECT id FROM answered`,
        [cmd.answer === 'flag' ? 'flagged' : 'looks_right', cmd.reason, cmd.reviewerId, cmd.jti, cmd.reviewId, cmd.tenantId],
      );
      const review = await manager.findOne(SampledReview, { where: { tenantId: cmd.tenantId, id: cmd.reviewId } });
      if (!review) return { ok: false, status: 404, message: 'No review matches this link.' };
      if (!rows.length) {
        return review.status !== 'pending'
          ? { ok: false, status: 409, message: `This call has been reviewed already (${review.status === 'flagged' ? 'flagged' : 'looks right'}).` }
          : { ok: false, status: 410, message: 'The review has expired.' };
      }
      await this.audit.append(manager, {
        tenantId: review.tenantId,
        type: 'review.reviewed',
        actor: `approver:${cmd.reviewerId}`,
        agentId: review.agentId,
        delegatorId: review.delegatorId,
        mcpSessionId: review.mcpSessionId,
        data: { review_id: review.id, decision_id: review.decisionId, answer: cmd.answer, reason: cmd.reason, reviewer: cmd.reviewerId },
      });
      return { ok: true, review };
    });
  }

  /** `context.agent_flags`: the agent's flagged reviews in the last day, week and 30 days. */
  async agentFlags(tenantId: string, agentId: string): Promise<AgentFlags> {
    const [row] = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE reviewed_at > now() - interval '1 day') AS d1,
              count(*) FILTER (WHERE reviewed_at > now() - interval '7 days') AS d7,
              count(*) AS d30
         FROM sampled_reviews WHERE tenant_id = $1 AND agent_id = $2 AND status = 'flagged' AND reviewed_at > now() - interval '30 days'`,
      [tenantId, agentId],
    );
    return { last_24h: Number(row.d1), last_7d: Number(row.d7), last_30d: Number(row.d30) };
  }
}
