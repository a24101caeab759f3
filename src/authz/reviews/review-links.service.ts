import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { SigningKeys } from '../../common/keys/signing-keys.service';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import type { SampledReview } from './sampled-review.entity';

export const REVIEW_LINK_TYP = 'countersign-review-link+jwt';
export const REVIEW_LINK_AUDIENCE = 'countersign:review-link';

/** Who a verified review link speaks for. */
export interface ReviewLinkHolder {
  tenantId: string;
  reviewerId: string;
  reviewId: string;
  jti: string;
}

/**
 * Review links: a JWS bound to (tenant, reviewer, review) that lives as long as the review (a
 * day). It answers once: the review takes one answer, and records the link that gave it.
 */
@Injectable()
export class ReviewLinks {
  constructor(
    private readonly keys: SigningKeys,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async mint(review: Pick<SampledReview, 'id' | 'tenantId' | 'expiresAt'>, reviewerId: string): Promise<{ token: string; url: string }> {
    const token = await this.keys.sign(
      { tenant: review.tenantId, review_id: review.id },
      {
        typ: REVIEW_LINK_TYP,
        audience: REVIEW_LINK_AUDIENCE,
        subject: reviewerId,
        expiresAt: new Date(Math.ceil(review.expiresAt.getTime() / 1000) * 1000),
        jti: randomUUID(),
      },
    );
    return { token, url: new URL(`/review/${review.id}?link=${encodeURIComponent(token)}`, this.config.PUBLIC_URL).toString() };
  }

  /** The holder, or why not: `expired` (the link outlived its review) or `invalid` (damaged, not ours, another kind of token). */
  async verify(token: string): Promise<ReviewLinkHolder | 'expired' | 'invalid'> {
    try {
      const { payload } = await this.keys.verify(token, { typ: REVIEW_LINK_TYP, audience: REVIEW_LINK_AUDIENCE });
      const { sub, tenant, review_id, jti } = payload;
      if (typeof sub !== 'string' || typeof tenant !== 'string' || typeof review_id !== 'string' || typeof jti !== 'string') return 'invalid';
      return { tenantId: tenant, reviewerId: sub, reviewId: review_id, jti };
    } catch (e) {
      return (e as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid';
    }
  }
}
