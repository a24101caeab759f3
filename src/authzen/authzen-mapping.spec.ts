import { AuthorizationResult } from '../authz/authorize.usecase';
import { InvalidRequest } from '../common/errors/protocol-errors';
import { toAuthorizeInput, toDecision, TOP_LEVEL } from './authzen-mapping';
import { EvaluationRequest } from './authzen.schema';

const request = (over: Partial<EvaluationRequest> = {}): EvaluationRequest => ({
  subject: { type: 'agent', id: 'agent-1', properties: { token: 'a.b.c' } },
  action: { name: 'transfer_funds', properties: { server: 'payments' } },
  resource: { type: 'bank_account', id: 'acct-7', properties: { classification: 'confidential', environment: 'production' } },
  context: { arguments: { amount: 5 }, intent: { category: 'pay' }, reason: 'rent', correlation: { mcp_session_id: 's-1' } },
  ...over,
});

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidRequest) return (e.extra.errors as { field: string }[]).map((p) => p.field);
    throw e;
  }
  return [];
}
const fieldOf = (fn: () => unknown) => fieldsOf(fn)[0];

describe('AuthZEN → the authorization envelope', () => {
  it('maps subject, action, resource and context onto the envelope of /v1/authorize', () => {
    expect(toAuthorizeInput(request())).toMatchObject({
      agent: { token: 'a.b.c' },
      action: { server: 'payments', tool: 'transfer_funds', method: 'tools/call', arguments: { amount: 5 } },
      resource: { id: 'acct-7', type: 'bank_account', classification: 'confidential' },
      environment: 'production',
      intent: { category: 'pay' },
      reason: 'rent',
      correlation: { mcp_session_id: 's-1' },
    });
  });

  it('takes the time the PEP observed the call from context.observed_at, and leaves context.time (an AuthZEN example member) alone', () => {
    const input = toAuthorizeInput(request({ context: { observed_at: '2026-12-07T04:30:00Z', time: '1985-10-26T01:22-07:00' } }));
    expect(input.observed_at).toBe('2026-12-07T04:30:00Z');
  });

  it('reads an MCP tools/call on a resource of type tool as that tool, with no resource', () => {
    const input = toAuthorizeInput(
      request({ action: { name: 'tools/call' }, resource: { type: 'tool', id: 'read_calendar', properties: { server: 'calendar' } } }),
    );
    expect(input.action).toMatchObject({ server: 'calendar', tool: 'read_calendar', method: 'tools/call' });
    expect(input.resource).toEqual({});
  });

  it.each([
    ['the token', { subject: { type: 'agent', id: 'a' } }, 'subject.properties.token'],
    ['the server', { action: { name: 't' } }, 'action.properties.server'],
    ['the classification', { resource: { type: 'x', id: 'y', properties: { classification: 'secret' } } }, 'resource.properties.classification'],
    ['the environment', { resource: { type: 'x', id: 'y', properties: { environment: 'prod' } } }, 'resource.properties.environment'],
    ['an intent category', { context: { intent: { category: 'plunder' } } }, 'context.intent.category'],
    ['a risk signal', { context: { risk: { signals: ['Not Lower'] } } }, 'context.risk.signals.0'],
    ['the observed time', { context: { observed_at: '2026-12-07T04:30:00' } }, 'context.observed_at'],
  ] as const)('names %s, when bad, by its AuthZEN member', (_what, over, field) => {
    expect(fieldOf(() => toAuthorizeInput(request(over as Partial<EvaluationRequest>)))).toBe(field);
  });

  it('names a member of a batch, or the default it came from', () => {
    const paths = { ...TOP_LEVEL, resource: 'evaluations.4.resource' };
    const bad = request({ resource: { type: 'x', id: 'y', properties: { classification: 'secret' } }, context: { intent: { category: 'plunder' } } });
    expect(fieldsOf(() => toAuthorizeInput(bad, paths))).toEqual(['context.intent.category', 'evaluations.4.resource.properties.classification']);
  });
});

describe('the verdict → an AuthZEN Decision', () => {
  const result = (over: Partial<AuthorizationResult>): AuthorizationResult => ({
    verdict: 'allow',
    decision_id: 'dec_1',
    policy: { id: 'acme/policy-set', version: 3 },
    determining_policies: [],
    reasons: [],
    obligations: [],
    ...over,
  });

  it('answers allow with {decision: true} only, whatever advice the policy gave', () => {
    expect(
      toDecision(result({ reasons: ['granted_read'], obligations: [{ type: 'sampled_review', rate: 0.1, reviewers: ['delegator'] }] }), {
        baseUrl: 'https://pdp',
      }),
    ).toEqual({
      decision: true,
    });
  });

  it('answers deny with the reasons for admins, users and machines', () => {
    expect(toDecision(result({ verdict: 'deny', reasons: ['not_delegated'] }), { baseUrl: 'https://pdp' })).toEqual({
      decision: false,
      context: {
        decision_id: 'dec_1',
        policy: { id: 'acme/policy-set', version: 3 },
        reasons: ['not_delegated'],
        reason_admin: { '403': 'Denied by policy set acme/policy-set v3: not_delegated (decision dec_1)' },
        reason_user: { '403': 'This action is not permitted. Contact your administrator.' },
      },
    });
  });

  it('answers a parked call with a step-up obligation that carries the CIBA handle', () => {
    const parked = result({
      verdict: 'allow_with_obligations',
      reasons: ['export'],
      obligations: [{ type: 'human_approval', approvers: ['delegator'], quorum: 1, reason_required: false, independent_approvers: false }],
      approval: { auth_req_id: 'ar_1', expires_in: 600, interval: 5 },
    });
    expect(toDecision(parked, { baseUrl: 'https://pdp.example/' }).context?.obligations).toEqual([
      {
        id: 'ar_1',
        type: 'step-up',
        properties: {
          acr_value: 'urn:countersign:acr:human-approval',
          auth_req_id: 'ar_1',
          expires_in: 600,
          interval: 5,
          approvers: ['delegator'],
          quorum: 1,
          approver_sets: [{ approvers: ['delegator'], quorum: 1, independent_approvers: false }],
          status_endpoint: 'https://pdp.example/v1/approvals/ar_1',
          token_endpoint: 'https://pdp.example/v1/approvals/ar_1/token',
        },
      },
    ]);
  });

  it('lists every approver set of a parked call (conjunctive obligations), with everyone who may approve and the sum of the quorums', () => {
    const parked = result({
      verdict: 'allow_with_obligations',
      reasons: ['payment_over_threshold', 'payment_over_treasury_threshold'],
      obligations: [
        { type: 'human_approval', approvers: ['group:finance'], quorum: 1, reason_required: false, independent_approvers: true, binding_message: 'Pay' },
        { type: 'human_approval', approvers: ['group:treasury', 'user:carol'], quorum: 2, reason_required: false, independent_approvers: true },
        { type: 'sampled_review', rate: 0.1, reviewers: ['delegator'] },
      ],
      approval: { auth_req_id: 'ar_2', expires_in: 900, interval: 1 },
    });
    const [stepUp] = toDecision(parked, { baseUrl: 'https://pdp.example' }).context?.obligations as { properties: Record<string, unknown> }[];
    expect(stepUp.properties).toMatchObject({
      approvers: ['group:finance', 'group:treasury', 'user:carol'],
      quorum: 3,
      binding_message: 'Pay',
      approver_sets: [
        { approvers: ['group:finance'], quorum: 1, independent_approvers: true },
        { approvers: ['group:treasury', 'user:carol'], quorum: 2, independent_approvers: true },
      ],
    });
  });
});
