import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';

describe('Reopening an approver link after voting', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let id: string;
  let bobLink: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    id = await parkApproval(
      api,
      await tenantToken(),
      parkBody({ obligation: { approvers: ['user:bob', 'user:carol'], quorum: 2, binding_message: 'Raise the card limit to <50k>' } }),
    );
    bobLink = (await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' })).token;
  });
  afterAll(() => env.teardown());

  async function reopen(link: string) {
    const res = await fetch(`${api.url}/approve/${id}?link=${encodeURIComponent(link)}`);
    return { status: res.status, headers: res.headers, html: await res.text() };
  }

  it('while pending, shows the approver their own vote and reason and the count, not the form and not others’ reasons', async () => {
    const voted = await fetch(`${api.url}/approve/${id}?link=${encodeURIComponent(bobLink)}`);
    expect(voted.status).toBe(200);
    expect((await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'bob: within <policy>' })).status).toBe(200);

    const page = await reopen(bobLink);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.html).toContain('You approved this request');
    expect(page.html).toContain('This link has been used');
    expect(page.html).toContain('bob: within &lt;policy&gt;');
    expect(page.html).toContain('Raise the card limit to &lt;50k&gt;');
    expect(page.html).toMatch(/id="request-status">Waiting for 1 more approval\./);
    expect(page.html).not.toContain('id="decision-form"');
    expect(page.html).not.toContain('id="decided-by-list"');
  });

  it('once settled, shows the decision with every approver’s name and reason', async () => {
    expect((await voteAs(api, { approvalId: id, approverId: 'carol', decision: 'deny', reason: 'carol: no ticket for this' })).status).toBe(200);

    const page = await reopen(bobLink);
    expect(page.status).toBe(200);
    expect(page.html).toMatch(/id="request-status">Denied/);
    const decidedBy = page.html.slice(page.html.indexOf('id="decided-by-list"'));
    expect(decidedBy).toMatch(/<strong>Bob<\/strong> <code>bob<\/code> <span class="vote vote--approve">approved<\/span>/);
    expect(decidedBy).toContain('bob: within &lt;policy&gt;');
    expect(decidedBy).toMatch(/<strong>Carol<\/strong> <code>carol<\/code> <span class="vote vote--deny">denied<\/span>/);
    expect(decidedBy).toContain('carol: no ticket for this');
  });

  it('a link of someone who did not vote on the settled request is still a 410 "closed" page', async () => {
    const other = await parkApproval(api, await tenantToken(), parkBody({ obligation: { approvers: ['user:dave', 'user:erin'], quorum: 1 } }));
    expect((await voteAs(api, { approvalId: other, approverId: 'dave', decision: 'approve', reason: 'fine' })).status).toBe(200);
    const erin = (await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: other, approverId: 'erin' })).token;
    const res = await fetch(`${api.url}/approve/${other}?link=${encodeURIComponent(erin)}`);
    expect(res.status).toBe(410);
  });
});
