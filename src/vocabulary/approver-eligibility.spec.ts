import { excludedFromApproving, ineligibility, NamedApprovers } from './approver-eligibility';

const request = (over: Partial<NamedApprovers> = {}): NamedApprovers => ({
  independentApprovers: false,
  delegatorId: 'alice',
  agentOperator: 'ops-team',
  approvers: ['user:bob', 'group:finance', 'delegator'],
  escalateTo: ['user:carol'],
  ...over,
});

describe('who may vote on an approval request', () => {
  it.each([
    ['a named user', { approverId: 'bob' }],
    ['an escalation approver, from the start', { approverId: 'carol' }],
    ['the delegating human when the obligation names "delegator"', { approverId: 'alice' }],
    ['a member who came through a named group', { approverId: 'dave', viaGroup: 'finance' }],
  ])('%s may', (_who, approver) => {
    expect(ineligibility(request(), approver)).toBeUndefined();
  });

  it.each([
    ['someone not named', { approverId: 'mallory' }, 'mallory is not an approver of this request'],
    ['a member of a group that is not named', { approverId: 'dave', viaGroup: 'sales' }, 'dave is not an approver of this request'],
  ])('%s may not', (_who, approver, why) => {
    expect(ineligibility(request(), approver)).toBe(why);
  });

  it('under separation of duties neither the delegating human nor the agent’s operator may, even when named', () => {
    const independent = request({ independentApprovers: true, approvers: ['delegator', 'user:ops-team', 'user:bob'] });
    expect(ineligibility(independent, { approverId: 'alice' })).toMatch(/alice is the delegating human .*separation of duties/);
    expect(ineligibility(independent, { approverId: 'ops-team' })).toMatch(/ops-team is the agent's operator .*separation of duties/);
    expect(ineligibility(independent, { approverId: 'bob' })).toBeUndefined();
    expect(excludedFromApproving(independent, 'alice')).toBe(true);
    expect(excludedFromApproving(request(), 'alice')).toBe(false);
  });

  it('a request without an agent operator excludes nobody as its operator', () => {
    expect(excludedFromApproving(request({ independentApprovers: true, agentOperator: null }), 'bob')).toBe(false);
  });
});
