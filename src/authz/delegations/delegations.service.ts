import { Injectable, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { RejectParkedApprovals } from '../../approvals/reject-parked-approvals.usecase';
import { StandingApprovals } from '../../approvals/standing/standing-approvals.service';
import { AuditLog } from '../../audit/audit-log.service';
import { FieldProblem, InvalidRequest, NotFound } from '../../common/errors/protocol-errors';
import { RedisBus } from '../../common/redis/redis-bus.service';
import { UserDirectory } from '../people/user-directory.port';
import { HopGrant, resourcesWithin, toolPatternWithin } from '../policy/delegation-chain';
import { Delegation } from './delegation.entity';
import { GrantDelegationInput } from './grant-delegation.command';

const CHANGED = 'delegations-changed';
/** A cached hop is trusted for at most this long, even if an invalidation message is lost. */
const HOP_CACHE_MS = 1000;

export type HopProblem = 'no_delegation' | 'delegation_revoked' | 'delegation_expired' | 'delegation_not_yet_valid';
export type HopResult = { ok: true; delegations: Delegation[] } | { ok: false; problem: HopProblem };

/**
 * Delegations: grant, list, revoke, and the hot-path lookup of one hop of a chain. Revoking
 * cascades to every delegation made from the revoked one, tells every instance to drop its
 * cached hops, ends the standing approvals granted under them, and rejects the parked approval
 * requests that depended on them.
 */
@Injectable()
export class Delegations implements OnModuleInit {
  private readonly hops = new Map<string, { at: number; rows: Delegation[] }>();
  /** Bumped on every invalidation, so a read that raced a revoke is not cached. */
  private generation = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly bus: RedisBus,
    private readonly parked: RejectParkedApprovals,
    private readonly users: UserDirectory,
    private readonly standingApprovals: StandingApprovals,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.bus.subscribe(CHANGED, () => this.invalidate());
  }

  async grant(tenantId: string, grantedBy: string, input: GrantDelegationInput): Promise<Delegation> {
    let grantor = input.human;
    if (input.parent_id) {
      const parent = await this.dataSource.manager.findOne(Delegation, { where: { id: input.parent_id, tenantId } });
      if (!parent) throw InvalidRequest.forFields([{ field: 'parent_id', message: 'no such delegation' }]);
      if (parent.revokedAt) throw InvalidRequest.forFields([{ field: 'parent_id', message: 'the parent delegation is revoked' }]);
      if (parent.humanId !== input.human) {
        throw InvalidRequest.forFields([{ field: 'human', message: 'must be the human of the parent delegation: the originating human never changes' }]);
      }
      const problems = widening(parent, input, new Date());
      if (problems.length) throw InvalidRequest.forFields(problems);
      grantor = parent.granteeId;
    }
    // The intersection with the human's own entitlements: a delegation never grants more than the
    // human holds (read past the cache: a change just made counts). None recorded: unrestricted.
    const { user, entitlements } = await this.users.person(tenantId, input.human, { fresh: true });
    // Nothing can be delegated for a disabled human: their agents would be denied every call anyway.
    if (user.status === 'disabled') throw InvalidRequest.forFields([{ field: 'human', message: `"${input.human}" is disabled in the directory` }]);
    if (entitlements) {
      const problems = beyondEntitlements(entitlements, input);
      if (problems.length) throw InvalidRequest.forFields(problems);
    }
    const delegation = this.dataSource.manager.create(Delegation, {
      id: `dlg_${randomUUID()}`,
      tenantId,
      humanId: input.human,
      grantorId: grantor,
      granteeId: input.agent,
      parentId: input.parent_id ?? null,
      tools: input.tools,
      resources: input.resources ?? null,
      purpose: input.purpose ?? null,
      notBefore: input.not_before ? new Date(input.not_before) : null,
      expiresAt: input.expires_at ? new Date(input.expires_at) : null,
      revokedAt: null,
      revokedBy: null,
      createdBy: grantedBy,
    });
    await this.dataSource.transaction(async (manager) => {
      await manager.insert(Delegation, delegation);
      await this.audit.append(manager, {
        tenantId,
        type: 'delegation.granted',
        actor: grantedBy,
        agentId: delegation.granteeId,
        delegatorId: delegation.humanId,
        data: { delegation_id: delegation.id, grantor, tools: delegation.tools, resources: delegation.resources, parent_id: delegation.parentId },
      });
    });
    await this.bus.publish(CHANGED, { tenantId });
    return delegation;
  }

  /**
   * One delegation's standing now: null when there is no such delegation, else why it is not in
   * force (revoked, expired, not yet valid), or no problem. The redeem asks it of a directly parked call's delegation.
   */
  async standing(tenantId: string, id: string, now = new Date()): Promise<{ problem?: HopProblem } | null> {
    const d = await this.dataSource.manager.findOne(Delegation, { where: { id, tenantId } });
    if (!d) return null;
    if (d.revokedAt) return { problem: 'delegation_revoked' };
    if (d.expiresAt && d.expiresAt <= now) return { problem: 'delegation_expired' };
    if (d.notBefore && d.notBefore > now) return { problem: 'delegation_not_yet_valid' };
    return {};
  }

  list(tenantId: string, filter: { human?: string; agent?: string; includeRevoked?: boolean }): Promise<Delegation[]> {
    const q = this.dataSource.manager.createQueryBuilder(Delegation, 'd').where('d.tenant_id = :tenantId', { tenantId });
    if (filter.human) q.andWhere('d.human_id = :human', { human: filter.human });
    if (filter.agent) q.andWhere('d.grantee_id = :agent', { agent: filter.agent });
    if (!filter.includeRevoked) q.andWhere('d.revoked_at IS NULL');
    return q.orderBy('d.created_at', 'DESC').limit(1000).getMany();
  }

  async revoke(tenantId: string, id: string, revokedBy: string): Promise<{ revoked: string[]; rejected_approvals: string[] }> {
    const revoked = await this.dataSource.transaction(async (manager) => {
      const exists = await manager.findOne(Delegation, { where: { id, tenantId } });
      if (!exists) throw new NotFound('no such delegation');
      // TypeORM answers an UPDATE … RETURNING with [rows, affected count].
      const [rows]: [{ id: string }[], number] = await manager.query(
        `WITH RECURSIVE tree AS (
           SELECT id FROM delegations WHERE id = $1 AND tenant_id = $2
           UNION SELECT d.id FROM delegations d JOIN tree ON d.parent_id = tree.id WHERE d.tenant_id = $2
         )
         UPDATE delegations SET revoked_at = now(), revoked_by = $3
         WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL RETURNING id`,
        [id, tenantId, revokedBy],
      );
      const ids = rows.map((r) => r.id);
      if (ids.length) {
        await this.audit.append(manager, {
          tenantId,
          type: 'delegation.revoked',
          actor: revokedBy,
          agentId: exists.granteeId,
          delegatorId: exists.humanId,
          data: { delegation_id: id, cascade: ids },
        });
        // The standing approvals granted under them end with them (read per call, so on every instance at once).
        await this.standingApprovals.endForDelegations(manager, tenantId, ids, revokedBy);
      }
      return ids;
    });
    // Every instance drops its cached hops before this call returns.
    this.invalidate();
    await this.bus.publish(CHANGED, { tenantId, revoked });
    const rejected = await this.parked.forDelegations(tenantId, revoked, 'delegation_revoked');
    return { revoked, rejected_approvals: rejected };
  }

  private invalidate(): void {
    this.generation++;
    this.hops.clear();
  }

  /** The delegations in force for one hop (grantor → grantee acting for human), or why there are none. */
  /**
   * The chain an agent token names: human → innermost agent → … → current agent (actors are
   * current first); every hop must hold a delegation in force, else the first broken hop's problem.
   */
  async chain(
    tenantId: string,
    identity: { human: string; actors: string[] },
  ): Promise<{ ok: true; hops: Delegation[][] } | { ok: false; problem: HopProblem }> {
    const agents = [...identity.actors].reverse();
    const results = await Promise.all(agents.map((agent, i) => this.hop(tenantId, identity.human, i === 0 ? identity.human : agents[i - 1], agent)));
    const broken = results.find((r) => !r.ok);
    if (broken && !broken.ok) return broken;
    return { ok: true, hops: results.map((r) => (r.ok ? r.delegations : [])) };
  }

  async hop(tenantId: string, humanId: string, grantorId: string, granteeId: string, now = new Date()): Promise<HopResult> {
    const key = JSON.stringify([tenantId, humanId, grantorId, granteeId]);
    let cached = this.hops.get(key);
    if (!cached || Date.now() - cached.at > HOP_CACHE_MS) {
      const generation = this.generation;
      const rows = await this.dataSource.manager.find(Delegation, {
        where: { tenantId, humanId, grantorId, granteeId },
        order: { createdAt: 'DESC' },
        take: 50,
      });
      cached = { at: Date.now(), rows };
      if (this.hops.size > 50_000) this.hops.clear();
      if (generation === this.generation) this.hops.set(key, cached);
    }
    const active = cached.rows.filter((d) => !d.revokedAt && (!d.notBefore || d.notBefore <= now) && (!d.expiresAt || d.expiresAt > now));
    if (active.length) return { ok: true, delegations: active };
    if (cached.rows.some((d) => d.revokedAt)) return { ok: false, problem: 'delegation_revoked' };
    if (cached.rows.some((d) => d.expiresAt && d.expiresAt <= now)) return { ok: false, problem: 'delegation_expired' };
    if (cached.rows.some((d) => d.notBefore && d.notBefore > now)) return { ok: false, problem: 'delegation_not_yet_valid' };
    return { ok: false, problem: 'no_delegation' };
  }
}

/** How a delegation would grant more than its human holds themselves (their entitlements). */
function beyondEntitlements(entitlements: HopGrant, input: GrantDelegationInput): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const tool = input.tools.find((t) => !entitlements.tools.some((e) => toolPatternWithin(t, e)));
  if (tool) problems.push({ field: 'tools', message: `"${tool}" is not within the entitlements of "${input.human}"` });
  if (!input.resources) {
    if (!resourcesWithin(null, entitlements.resources)) {
      problems.push({
        field: 'resources',
        message: `must be given: "${input.human}" is entitled to ${JSON.stringify(entitlements.resources)} only, and none means any resource`,
      });
    }
  } else {
    const resource = input.resources.find((r) => !resourcesWithin([r], entitlements.resources));
    if (resource) problems.push({ field: 'resources', message: `"${resource}" is not within the entitlements of "${input.human}"` });
  }
  return problems;
}

/**
 * How a sub-delegation would hold more than its parent: each hop narrows, in tools, in resources
 * (none named means any resource) and in time (it may start no earlier and end no later). The
 * evaluation intersects the hops anyway; refusing here keeps what is stored honest about what an
 * agent may do.
 */
function widening(parent: Delegation, input: GrantDelegationInput, now: Date): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const tool = input.tools.find((t) => !parent.tools.some((p) => toolPatternWithin(t, p)));
  if (tool) problems.push({ field: 'tools', message: `"${tool}" is not within the parent delegation's tools` });
  if (!input.resources) {
    if (!resourcesWithin(null, parent.resources)) {
      problems.push({
        field: 'resources',
        message: `must be given: the parent delegation is limited to ${JSON.stringify(parent.resources)}, and none means any resource`,
      });
    }
  } else {
    const resource = input.resources.find((r) => !resourcesWithin([r], parent.resources));
    if (resource) problems.push({ field: 'resources', message: `"${resource}" is not within the parent delegation's resources` });
  }
  if (parent.expiresAt) {
    const at = parent.expiresAt.toISOString();
    if (parent.expiresAt <= now) problems.push({ field: 'parent_id', message: `the parent delegation expired at ${at}` });
    else if (!input.expires_at) problems.push({ field: 'expires_at', message: `must be given and no later than the parent delegation's expiry (${at})` });
    else if (new Date(input.expires_at) > parent.expiresAt)
      problems.push({ field: 'expires_at', message: `must be no later than the parent delegation's expiry (${at})` });
  }
  if (parent.notBefore && parent.notBefore > (input.not_before ? new Date(input.not_before) : now)) {
    problems.push({
      field: 'not_before',
      message: `must be no earlier than the parent delegation's not_before (${parent.notBefore.toISOString()}); none means now`,
    });
  }
  return problems;
}
