import { Injectable } from '@nestjs/common';
import type { EntitySelect } from '../../common/database/select-entities';
import { selectedTogether } from '../../common/database/transaction-begun-with';
import { DataSource, EntityManager } from 'typeorm';
import type { ApproverObligation, ApproverStanding } from '../../approvals/approver-routing.port';
import { approvalsNeeded, everySetMet, namedIn } from '../../approvals/approver-sets';
import { FieldProblem, InvalidRequest, NotFound } from '../../common/errors/protocol-errors';
import { excludedFromApproving } from '../../vocabulary/approver-eligibility';
import { AuditLog } from '../../audit/audit-log.service';
import { RejectParkedApprovals } from '../../approvals/reject-parked-approvals.usecase';
import { StandingApprovals } from '../../approvals/standing/standing-approvals.service';
import { HUMAN_DISABLED } from '../../vocabulary/reason-codes';
import { Approver, ApproverGroup, ApproverGroupMember } from './approver.entity';
import { DirectoryMembership } from './directory-membership.service';
import { ApproverInput, GroupInput } from './directory.commands';

/** One person to notify, and the group through which they were named (if only through one). */
export interface Recipient {
  approverId: string;
  displayName: string;
  email: string | null;
  viaGroup: string | null;
  /** Has at least one push subscription. */
  hasPush: boolean;
}

interface Lookup {
  people: Map<string, Recipient>;
  /** Group name → its active members; an empty array is an empty group, an absent key an unknown one. */
  groups: Map<string, Recipient[]>;
  /** People found but disabled (named directly or as a group's members): never notified, never counted. */
  disabled: Set<string>;
  /** Groups with at least one disabled member. */
  withDisabled: Set<string>;
}

const PAGE_MAX = 500;

/**
 * The approver directory: people and groups per tenant, and how an obligation's approver
 * references ("user:<id>", "group:<name>", "delegator") resolve to people.
 */
@Injectable()
export class ApproverDirectory {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly membership: DirectoryMembership,
    private readonly parked: RejectParkedApprovals,
    private readonly standingApprovals: StandingApprovals,
  ) {}

  /** Every change is an audit event in the same transaction (`actor`: who made it). */
  async putApprover(tenantId: string, id: string, input: ApproverInput, actor: string): Promise<{ approver: Approver; created: boolean }> {
    const { created, disabled } = await this.dataSource.transaction(async (m) => {
      // An absent status keeps the person's own (a new person is active); the audit shows the change.
      const [row] = await m.query(
        `WITH before AS (SELECT status FROM approvers WHERE tenant_id = $1 AND id = $2)
         INSERT INTO approvers (tenant_id, id, display_name, email, entitlements, status, attributes)
         VALUES ($1, $2, $3, $4, $5::jsonb, coalesce($6::text, 'active'), coalesce($7::jsonb, '{}'::jsonb))
         ON CONFLICT (tenant_id, id) DO UPDATE SET display_name = EXCLUDED.display_name, email = EXCLUDED.email,
           entitlements = EXCLUDED.entitlements, status = coalesce($6::text, approvers.status),
           attributes = coalesce($7::jsonb, approvers.attributes), updated_at = now()
         RETURNING (xmax = 0) AS created, status, attributes, (SELECT status FROM before) AS previous_status`,
        [
          tenantId,
          id,
          input.display_name,
          input.email ?? null,
          input.entitlements ? JSON.stringify(input.entitlements) : null,
          input.status ?? null,
          input.attributes ? JSON.stringify(input.attributes) : null,
        ],
      );
      await this.audit.append(m, {
        tenantId,
        type: row.created ? 'directory.approver_created' : 'directory.approver_updated',
        actor,
        data: {
          approver: id,
          ...input,
          entitlements: input.entitlements ?? null,
          status: row.status,
          attributes: row.attributes,
          ...(row.created ? {} : { previous_status: row.previous_status }),
        },
      });
      return { created: row.created as boolean, disabled: row.status === 'disabled' && row.previous_status !== 'disabled' };
    });
    // A human who joins the directory becomes "active" to policies (context.user.status), a disabled
    // one's agents are denied, their entitlements bound their agents' calls and their attributes are
    // the User's tags: every instance follows at once.
    await this.membership.changed(tenantId);
    // As for a revoked delegation: what was parked on a disabled human's behalf is rejected now
    // (the redeem would deny it anyway), rather than left for approvers to answer in vain.
    if (disabled) await this.parked.forDelegator(tenantId, id, HUMAN_DISABLED);
    // What they granted as an approver stands no longer (they could not vote it now).
    if (disabled) await this.standingApprovals.endForPerson(tenantId, id, actor);
    return { approver: await this.getApprover(tenantId, id), created };
  }

  async getApprover(tenantId: string, id: string): Promise<Approver> {
    const approver = await this.dataSource.manager.findOne(Approver, { where: { tenantId, id } });
    if (!approver) throw new NotFound(`no approver "${id}"`);
    return approver;
  }

  async listApprovers(tenantId: string, after = '', limit = 100): Promise<Approver[]> {
    return this.dataSource.manager
      .createQueryBuilder(Approver, 'a')
      .where('a.tenantId = :tenantId AND a.id > :after', { tenantId, after })
      .orderBy('a.id')
      .limit(Math.min(limit, PAGE_MAX))
      .getMany();
  }

  /** Also removes them from their groups and drops their push subscriptions (foreign keys cascade). */
  async deleteApprover(tenantId: string, id: string, actor: string): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const result = await m.delete(Approver, { tenantId, id });
      if (!result.affected) throw new NotFound(`no approver "${id}"`);
      await this.audit.append(m, { tenantId, type: 'directory.approver_deleted', actor, data: { approver: id } });
    });
    await this.membership.changed(tenantId);
  }

  /** Creates or replaces a group and its whole member list, atomically; every member must exist. */
  async putGroup(tenantId: string, name: string, input: GroupInput, actor: string): Promise<{ group: GroupView; created: boolean }> {
    const members = [...new Set(input.members)];
    const created = await this.dataSource.transaction(async (manager) => {
      const known = await manager.query(`SELECT id FROM approvers WHERE tenant_id = $1 AND id = ANY($2)`, [tenantId, members]);
      const knownIds = new Set(known.map((r: { id: string }) => r.id));
      const problems = input.members
        .map((m, i) => ({ m, i }))
        .filter(({ m }) => !knownIds.has(m))
        .map(({ m, i }) => ({ field: `members[${i}]`, message: `"${m}" is not in the approver directory` }));
      if (problems.length) throw InvalidRequest.forFields(problems);
      const [row] = await manager.query(
        `INSERT INTO approver_groups (tenant_id, name, display_name) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, name) DO UPDATE SET display_name = EXCLUDED.display_name, updated_at = now()
         RETURNING (xmax = 0) AS created`,
        [tenantId, name, input.display_name ?? name],
      );
      if (input.member_of) await this.placeGroup(manager, tenantId, name, input.member_of);
      await manager.delete(ApproverGroupMember, { tenantId, groupName: name });
      if (members.length) {
        await manager.query(`INSERT INTO approver_group_members (tenant_id, group_name, approver_id) SELECT $1, $2, unnest($3::text[])`, [
          tenantId,
          name,
          members,
        ]);
      }
      await this.audit.append(manager, {
        tenantId,
        type: row.created ? 'directory.group_created' : 'directory.group_replaced',
        actor,
        data: { group: name, display_name: input.display_name ?? name, members, ...(input.member_of ? { member_of: [...new Set(input.member_of)] } : {}) },
      });
      return row.created as boolean;
    });
    // Policies read group membership (context.user in Group::"…"): every instance follows at once.
    await this.membership.changed(tenantId);
    return { group: await this.getGroup(tenantId, name), created };
  }

  /**
   * Replaces the groups `name` is in. Serialized per tenant (an advisory lock for the transaction),
   * so two changes made at once cannot close a cycle that neither sees alone.
   */
  private async placeGroup(manager: EntityManager, tenantId: string, name: string, memberOf: string[]): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtext('approver-groups:' || $1))`, [tenantId]);
    const parents = [...new Set(memberOf)];
    const rows: { name: string; contains: boolean }[] = await manager.query(
      `WITH RECURSIVE up (start, name) AS (
         SELECT g.name, g.name FROM approver_groups g WHERE g.tenant_id = $1 AND g.name = ANY($2::text[])
         UNION SELECT up.start, p.parent_name FROM up JOIN approver_group_parents p ON p.tenant_id = $1 AND p.group_name = up.name
       )
       SELECT start AS name, bool_or(name = $3) AS contains FROM up GROUP BY start`,
      [tenantId, parents, name],
    );
    const found = new Map(rows.map((r) => [r.name, r.contains]));
    const problems = memberOf.flatMap((parent, i) => {
      const field = `member_of[${i}]`;
      if (parent === name) return [{ field, message: 'a group cannot be in itself' }];
      if (!found.has(parent)) return [{ field, message: `"${parent}" is not an approver group` }];
      if (found.get(parent)) return [{ field, message: `"${parent}" is already within "${name}": a group cannot end up within itself` }];
      return [];
    });
    if (problems.length) throw InvalidRequest.forFields(problems);
    await manager.query(`DELETE FROM approver_group_parents WHERE tenant_id = $1 AND group_name = $2`, [tenantId, name]);
    if (parents.length) {
      await manager.query(`INSERT INTO approver_group_parents (tenant_id, group_name, parent_name) SELECT $1, $2, unnest($3::text[])`, [
        tenantId,
        name,
        parents,
      ]);
    }
  }

  async getGroup(tenantId: string, name: string): Promise<GroupView> {
    const group = await this.dataSource.manager.findOne(ApproverGroup, { where: { tenantId, name } });
    if (!group) throw new NotFound(`no approver group "${name}"`);
    const [members, parents] = await Promise.all([
      this.dataSource.manager.find(ApproverGroupMember, { where: { tenantId, groupName: name }, order: { approverId: 'ASC' } }),
      this.dataSource.query<{ parent_name: string }[]>(
        `SELECT parent_name FROM approver_group_parents WHERE tenant_id = $1 AND group_name = $2 ORDER BY parent_name`,
        [tenantId, name],
      ),
    ]);
    return groupView(
      group,
      members.map((m) => m.approverId),
      parents.map((p) => p.parent_name),
    );
  }

  async listGroups(tenantId: string): Promise<GroupView[]> {
    const rows: { name: string; display_name: string; created_at: Date; updated_at: Date; members: string[]; member_of: string[] }[] =
      await this.dataSource.query(
        `SELECT g.name, g.display_name, g.created_at, g.updated_at,
              coalesce(array_agg(m.approver_id ORDER BY m.approver_id) FILTER (WHERE m.approver_id IS NOT NULL), '{}') AS members,
              ARRAY(SELECT p.parent_name FROM approver_group_parents p WHERE p.tenant_id = g.tenant_id AND p.group_name = g.name ORDER BY p.parent_name) AS member_of
         FROM approver_groups g LEFT JOIN approver_group_members m ON m.tenant_id = g.tenant_id AND m.group_name = g.name
        WHERE g.tenant_id = $1 GROUP BY g.tenant_id, g.name ORDER BY g.name LIMIT ${PAGE_MAX}`,
        [tenantId],
      );
    return rows.map((r) => ({
      name: r.name,
      display_name: r.display_name,
      members: r.members,
      member_of: r.member_of,
      created_at: r.created_at.toISOString(),
      updated_at: r.updated_at.toISOString(),
    }));
  }

  async deleteGroup(tenantId: string, name: string, actor: string): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const result = await m.delete(ApproverGroup, { tenantId, name });
      if (!result.affected) throw new NotFound(`no approver group "${name}"`);
      await this.audit.append(m, { tenantId, type: 'directory.group_deleted', actor, data: { group: name } });
    });
    await this.membership.changed(tenantId);
  }

  /** What `standing` reads, as selects to make in another statement's round trip (a vote's lock). */
  standingReads(tenantId: string, approverId: string): readonly [EntitySelect<Approver>, EntitySelect<ApproverGroupMember>] {
    return [
      { entity: Approver, where: { tenantId, id: approverId } },
      { entity: ApproverGroupMember, where: { tenantId, approverId } },
    ];
  }

  /** The standing from the rows `standingReads` read: unknown to the directory is not disabled. */
  standingFrom([[person], memberships]: [Approver[], ApproverGroupMember[]]): ApproverStanding {
    return { disabled: person?.status === 'disabled', groups: memberships.map((m) => m.groupName) };
  }

  /** Whether the person is disabled now, and the groups they are a member of now: the same reads, in one round trip of their own. */
  async standing(tenantId: string, approverId: string): Promise<ApproverStanding> {
    return this.standingFrom(await selectedTogether(this.dataSource, this.standingReads(tenantId, approverId)));
  }

  /**
   * The people that approver references name, each once (named directly beats named through a
   * group), without those excluded (e.g. by separation of duties or because they already voted).
   */
  async recipients(tenantId: string, refs: string[], delegatorId: string, exclude: (approverId: string) => boolean = () => false): Promise<Recipient[]> {
    return distinctPeople(refs, delegatorId, await this.lookup(tenantId, refs, delegatorId), exclude);
  }

  /**
   * What would make a request nobody can answer: an unknown person, an unknown or empty group,
   * or fewer distinct eligible people than the quorum or deny threshold needs. From the same
   * lookup, who the initial round notifies (the approvers, not yet the escalation approvers).
   */
  async admit(o: ApproverObligation): Promise<{ problems: FieldProblem[]; initial: Recipient[] }> {
    const found = await this.lookup(o.tenantId, [...o.approvers, ...o.escalateTo], o.delegatorId);
    const problems: FieldProblem[] = [];
    const reported = new Set<string>();
    const check = (refs: string[], field: string) =>
      refs.forEach((ref, i) => {
        const at = `${field}[${i}]`;
        // A reference several sets name is reported once, where it first appears.
        if (reported.has(ref)) return;
        const before = problems.length;
        if (ref === 'delegator' && found.disabled.has(o.delegatorId)) {
          problems.push({ field: at, message: `names the delegator "${o.delegatorId}", who is disabled in the approver directory` });
        } else if (ref.startsWith('user:') && found.disabled.has(ref.slice(5))) {
          problems.push({ field: at, message: `names "${ref.slice(5)}", who is disabled in the approver directory` });
        } else if (ref === 'delegator' && !found.people.has(o.delegatorId)) {
          problems.push({ field: at, message: `names the delegator "${o.delegatorId}", who is not in the approver directory, so they cannot be reached` });
        } else if (ref.startsWith('user:') && !found.people.has(ref.slice(5))) {
          problems.push({ field: at, message: `names "${ref.slice(5)}", who is not in the approver directory` });
        } else if (ref.startsWith('group:') && !found.groups.has(ref.slice(6))) {
          problems.push({ field: at, message: `names group "${ref.slice(6)}", which does not exist` });
        } else if (ref.startsWith('group:') && found.groups.get(ref.slice(6))!.length === 0) {
          const why = found.withDisabled.has(ref.slice(6)) ? 'whose members are all disabled' : 'which has no members';
          problems.push({ field: at, message: `names group "${ref.slice(6)}", ${why}` });
        }
        if (problems.length > before) reported.add(ref);
      });
    o.sets.forEach((set, i) => check(set.approvers, `${o.setPath(i)}.approvers`));
    o.sets.forEach((set, i) => check(set.escalate_to, `${o.setPath(i)}.escalate_to`));
    if (problems.length) return { problems, initial: [] };

    const excluded = (id: string) => excludedFromApproving(o, id);
    const why = (independent: boolean) => (independent ? ' (separation of duties excludes the delegating human and the agent operator)' : '');
    // Who can count in each set (escalation approvers included, separation of duties applied per set).
    const perSet = o.sets.map((set) =>
      distinctPeople(namedIn(set), o.delegatorId, found, (id) => excludedFromApproving({ ...o, independentApprovers: set.independent_approvers }, id)),
    );
    o.sets.forEach((set, i) => {
      if (set.quorum > perSet[i].length) {
        problems.push({
          field: `${o.setPath(i)}.quorum`,
          message: `is ${set.quorum} but only ${perSet[i].length} distinct approver(s) can vote${why(set.independent_approvers)}`,
        });
      }
    });
    const eligible = distinctPeople([...o.approvers, ...o.escalateTo], o.delegatorId, found, excluded);
    if (!problems.length && o.sets.length > 1) {
      // Each person counts in one set only: can everyone who could vote fill every set at once?
      const voters = eligible.map((p) => perSet.flatMap((people, i) => (people.some((q) => q.approverId === p.approverId) ? [i] : [])));
      if (!everySetMet(o.sets, voters)) {
        problems.push({
          field: 'obligation.approver_sets',
          message: `need ${approvalsNeeded(o.sets)} distinct approvers, each counting in one set only, but the people they name cannot fill every set`,
        });
      }
    }
    if (o.denyThreshold > eligible.length) {
      problems.push({
        field: 'obligation.deny_threshold',
        message: `is ${o.denyThreshold} but only ${eligible.length} distinct approver(s) can vote${why(o.independentApprovers)}`,
      });
    }
    return { problems, initial: problems.length ? [] : distinctPeople(o.approvers, o.delegatorId, found, excluded) };
  }

  /**
   * The people named directly (or as the delegator) and every named group with its members: one
   * round trip, cached per tenant like the decision path's reads (DirectoryMembership: dropped on
   * every instance at each directory change, trusted for at most a second). A vote reads the
   * voter's standing afresh, so a stale answer can at most notify someone disabled a moment ago.
   */
  private lookup(tenantId: string, refs: string[], delegatorId: string): Promise<Lookup> {
    const people = [...new Set(refs.flatMap((r) => (r === 'delegator' ? [delegatorId] : r.startsWith('user:') ? [r.slice(5)] : [])))].sort();
    const groups = [...new Set(refs.filter((r) => r.startsWith('group:')).map((r) => r.slice(6)))].sort();
    // Only an answer that found everyone is kept: one naming someone not (yet) in the directory is
    // read again, so that a person or group just added (by any path) counts at once.
    const complete = (found: Lookup) => people.every((id) => found.people.has(id) || found.disabled.has(id)) && groups.every((name) => found.groups.has(name));
    return this.membership.resolved(tenantId, JSON.stringify([people, groups]), () => this.read(tenantId, people, groups), complete);
  }

  private async read(tenantId: string, people: string[], groups: string[]): Promise<Lookup> {
    const rows: {
      group_name: string | null;
      id: string | null;
      display_name: string | null;
      email: string | null;
      status: string | null;
      has_push: boolean;
    }[] = await this.dataSource.query(
      `WITH named AS (
         SELECT NULL::text AS group_name, a.id, a.display_name, a.email, a.status
           FROM approvers a WHERE a.tenant_id = $1 AND a.id = ANY($2::text[])
         UNION ALL
         SELECT g.name, a.id, a.display_name, a.email, a.status
           FROM approver_groups g
         LEFT JOIN approver_group_members m ON m.tenant_id = g.tenant_id AND m.group_name = g.name
         LEFT JOIN approvers a ON a.tenant_id = m.tenant_id AND a.id = m.approver_id
          WHERE g.tenant_id = $1 AND g.name = ANY($3::text[]))
       SELECT n.*, EXISTS (SELECT 1 FROM push_subscriptions s WHERE s.tenant_id = $1 AND s.approver_id = n.id) AS has_push FROM named n`,
      [tenantId, people, groups],
    );
    const found: Lookup = { people: new Map(), groups: new Map(), disabled: new Set(), withDisabled: new Set() };
    for (const r of rows) {
      // A disabled person may not vote (DecideApproval), so they are neither notified nor counted toward a quorum.
      if (r.id && r.status === 'disabled') {
        found.disabled.add(r.id);
        if (r.group_name !== null) {
          found.withDisabled.add(r.group_name);
          if (!found.groups.has(r.group_name)) found.groups.set(r.group_name, []);
        }
        continue;
      }
      const person = r.id ? { approverId: r.id, displayName: r.display_name!, email: r.email, viaGroup: r.group_name, hasPush: r.has_push } : undefined;
      if (r.group_name === null) {
        if (person) found.people.set(person.approverId, person);
        continue;
      }
      const members = found.groups.get(r.group_name) ?? [];
      if (person) members.push(person);
      found.groups.set(r.group_name, members);
    }
    return found;
  }
}

function distinctPeople(refs: string[], delegatorId: string, found: Lookup, exclude: (approverId: string) => boolean): Recipient[] {
  const out = new Map<string, Recipient>();
  for (const ref of refs) {
    const person = ref === 'delegator' ? found.people.get(delegatorId) : ref.startsWith('user:') ? found.people.get(ref.slice(5)) : undefined;
    if (person && !exclude(person.approverId)) out.set(person.approverId, person);
  }
  for (const ref of refs.filter((r) => r.startsWith('group:'))) {
    for (const member of found.groups.get(ref.slice(6)) ?? []) {
      if (!out.has(member.approverId) && !exclude(member.approverId)) out.set(member.approverId, member);
    }
  }
  return [...out.values()];
}

export interface GroupView {
  name: string;
  display_name: string;
  members: string[];
  /** The groups it is in (its members are in those for policies, transitively). */
  member_of: string[];
  created_at: string;
  updated_at: string;
}

function groupView(g: ApproverGroup, members: string[], memberOf: string[]): GroupView {
  return {
    name: g.name,
    display_name: g.displayName,
    members,
    member_of: memberOf,
    created_at: g.createdAt.toISOString(),
    updated_at: g.updatedAt.toISOString(),
  };
}

export function approverView(a: Approver) {
  return {
    id: a.id,
    display_name: a.displayName,
    email: a.email,
    entitlements: a.entitlements,
    status: a.status,
    attributes: a.attributes,
    created_at: a.createdAt.toISOString(),
    updated_at: a.updatedAt.toISOString(),
  };
}
