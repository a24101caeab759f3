/**
 * The AuthZEN face of the decision point: each evaluation is mapped to the envelope of
 * /v1/authorize and decided by the same `Authorize.execute` (the same engine, parking and audit);
 * only the request and answer shapes differ. Batches follow the three semantics of §7.1.2.1.
 */
import { Inject, Injectable } from '@nestjs/common';
import { AgentIdentityVerifier } from '../authz/agent-identity.verifier';
import { AuthorizeInput } from '../authz/authorize.command';
import { Authorize } from '../authz/authorize.usecase';
import { GatewayPrincipal } from '../common/auth/auth.decorators';
import { InvalidRequest, ProtocolError } from '../common/errors/protocol-errors';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EntityPaths, errorDecision, TOP_LEVEL, toAuthorizeInput, toDecision } from './authzen-mapping';
import { AuthZenDecision, EvaluationRequest, EvaluationsRequest, EvaluationsSemantic } from './authzen.schema';

/** Members of an execute_all batch decided at once: enough to overlap I/O, few enough to leave the pool to others. */
const BATCH_CONCURRENCY = 4;

interface Prepared {
  input: AuthorizeInput;
  /** What `subject.id` says, checked against the verified token before anything is decided. */
  subjectId: string;
  subjectPath: string;
}

@Injectable()
export class EvaluateAccess {
  constructor(
    private readonly authorize: Authorize,
    private readonly identities: AgentIdentityVerifier,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** §6: one evaluation, one Decision. */
  async evaluation(gateway: GatewayPrincipal, request: EvaluationRequest): Promise<AuthZenDecision> {
    const prepared = this.prepare(request, TOP_LEVEL);
    await this.checkSubjects(gateway, [prepared]);
    return this.decide(gateway, prepared);
  }

  /**
   * §7: every member is the request's defaults overridden by the member's own keys (whole
   * entities, not merged). All members are validated before any is decided: a malformed batch
   * parks nothing. Without members it is the single evaluation (§7.1), answered as a Decision.
   */
  async evaluations(gateway: GatewayPrincipal, request: EvaluationsRequest): Promise<AuthZenDecision | { evaluations: AuthZenDecision[] }> {
    const { evaluations: members = [], options, ...defaults } = request;
    if (!members.length) {
      const missing = (['subject', 'action', 'resource'] as const).filter((k) => !defaults[k]);
      if (missing.length) throw InvalidRequest.forFields(missing.map((k) => ({ field: k, message: 'is required' })));
      return this.evaluation(gateway, defaults as EvaluationRequest);
    }
    const prepared = members.map((member, i) => {
      const paths = Object.fromEntries(
        (['subject', 'action', 'resource', 'context'] as const).map((k) => [k, member[k] ? `evaluations.${i}.${k}` : k]),
      ) as EntityPaths;
      const missing = (['subject', 'action', 'resource'] as const).filter((k) => !(member[k] ?? defaults[k]));
      if (missing.length) {
        throw InvalidRequest.forFields(
          missing.map((k) => ({ field: `evaluations.${i}.${k}`, message: `is required (neither the member nor the request's top-level ${k} gives it)` })),
        );
      }
      const merged = { ...defaults, ...Object.fromEntries(Object.entries(member).filter(([, v]) => v !== undefined)) } as EvaluationRequest;
      return this.prepare(merged, paths);
    });
    await this.checkSubjects(gateway, prepared);
    return { evaluations: await this.run(options.evaluations_semantic, prepared.length, (i) => this.decideMember(gateway, prepared[i])) };
  }

  private prepare(request: EvaluationRequest, paths: EntityPaths): Prepared {
    return { input: toAuthorizeInput(request, paths), subjectId: request.subject.id, subjectPath: `${paths.subject}.id` };
  }

  /**
   * The token alone says who the agent is; a `subject.id` naming another agent is a request that
   * contradicts itself (400). A token that does not verify is not checked here: the decision
   * denies it with its precise reason and audits it, as /v1/authorize does.
   */
  private async checkSubjects(gateway: GatewayPrincipal, prepared: Prepared[]): Promise<void> {
    for (const p of prepared) {
      const verified = await this.identities.verify(p.input.agent.token, gateway.tenantId);
      if (verified.ok && verified.identity.actors[0] !== p.subjectId) {
        throw InvalidRequest.forFields([
          { field: p.subjectPath, message: 'is not the agent the token in subject.properties.token was issued to (its current actor)' },
        ]);
      }
    }
  }

  private async decide(gateway: GatewayPrincipal, prepared: Prepared): Promise<AuthZenDecision> {
    const result = await this.authorize.execute(gateway, prepared.input);
    return toDecision(result, { baseUrl: this.config.PUBLIC_URL });
  }

  /** In a batch, a member that fails with a protocol error is closed with its error; the others stand (§7.2.1). */
  private async decideMember(gateway: GatewayPrincipal, prepared: Prepared): Promise<AuthZenDecision> {
    try {
      return await this.decide(gateway, prepared);
    } catch (e) {
      if (e instanceof ProtocolError) return errorDecision(e.status, e.description);
      throw e;
    }
  }

  /**
   * execute_all: every member, answered in request order. deny_on_first_deny and
   * permit_on_first_permit: in order, one at a time, stopping after the first false (a deny, an
   * error or a call parked for approval) or the first true; the answer ends with that member.
   */
  private async run(semantic: EvaluationsSemantic, count: number, decide: (i: number) => Promise<AuthZenDecision>): Promise<AuthZenDecision[]> {
    const out: AuthZenDecision[] = [];
    if (semantic === 'execute_all') {
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < count; i = next++) out[i] = await decide(i);
      };
      await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, count) }, worker));
      return out;
    }
    const stopOn = semantic === 'permit_on_first_permit';
    for (let i = 0; i < count; i++) {
      out.push(await decide(i));
      if (out[i].decision === stopOn) break;
    }
    return out;
  }
}
