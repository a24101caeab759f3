import { renderBatchPage, renderBatchResult, BatchPageModel } from './batch-review.page';

const EVIL = `<script>alert(1)</script>"><img src=x onerror=alert(1)>'><svg onload=alert(1)>`;

function model(): BatchPageModel {
  const item = (id: string) => ({
    auth_req_id: id,
    binding_message: `Pay ${EVIL}`,
    tool_call: { server: `srv${EVIL}`, tool: `tool${EVIL}`, arguments: { [`k${EVIL}`]: EVIL, amount: 12 } },
    call_hash: EVIL,
    delegator_id: `alice${EVIL}`,
    delegator_name: EVIL,
    intent: { id: EVIL },
    resource: { classification: EVIL },
    environment: EVIL,
    risk: { prior_denials: 2, bulk: true },
    reason: EVIL,
    expires_at: new Date(Date.now() + 60_000).toISOString(),
    quorum: 1,
    votes: { approve: 0, deny: 0 },
    passkey_required: null as 'policy' | 'approver' | null,
  });
  return {
    view: { approver_id: `bob${EVIL}`, agent_id: `agent${EVIL}`, task_id: `task${EVIL}`, items: [item('A'.repeat(32)), item('B'.repeat(32))] },
    linkToken: `link${EVIL}`,
    csrfToken: `csrf${EVIL}`,
    secondsLeft: 60,
    firstExpiry: new Date(Date.now() + 60_000).toISOString(),
    passkeys: 0,
  };
}

describe('the batch page', () => {
  it('escapes every untrusted string: no injected tag or handler', () => {
    const html = renderBatchPage(model());
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<svg');
    // Every attribute of every start tag, quoted values consumed whole: none is a handler.
    const attributes = [...html.matchAll(/<[a-z][a-z0-9]*((?:\s+[^\s=>]+(?:="[^"]*")?)*)\s*>/gi)].flatMap((t) =>
      [...t[1].matchAll(/\s+([^\s=>]+)(?:="[^"]*")?/g)].map((a) => a[1].toLowerCase()),
    );
    expect(attributes.length).toBeGreaterThan(20);
    expect(attributes.filter((a) => a.startsWith('on') || a === 'style')).toEqual([]);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('shows every call with all its arguments, one choice per call, and the all-alike buttons naming the count', () => {
    const html = renderBatchPage(model());
    for (const id of ['A'.repeat(32), 'B'.repeat(32)]) {
      expect(html).toContain(`<input type="hidden" name="ids" value="${id}">`);
      expect(html).toContain(`name="decision.${id}" value="later" checked`);
      expect(html).toMatch(new RegExp(`<pre class="json" id="item-${id}-args"[^>]*>[^<]*&quot;amount&quot;: 12`));
    }
    expect(html).toContain('>Approve all 2</button>');
    expect(html).toContain('>Deny all 2</button>');
    expect(html).toContain('prior denials 2');
  });

  it('asks for the passkey when a call needs one: one signature for the batch, or a note to add a passkey first', () => {
    const plain = renderBatchPage(model());
    expect(plain).toContain('data-passkey-required=""');
    expect(plain).not.toContain('id="passkey-required"');
    expect(plain).not.toContain('id="sign-with-passkey"');
    expect(plain).toContain('<input type="hidden" name="passkey" id="passkey-assertion" value="">');

    const m = model();
    const needs = { ...m, view: { ...m.view, items: [{ ...m.view.items[0], passkey_required: 'policy' as const }, m.view.items[1]] } };
    const none = renderBatchPage(needs);
    expect(none).toContain('data-passkey-required="1"');
    expect(none).toContain('id="passkey-required"');
    expect(none).toContain('id="passkey-missing"');
    const withKey = renderBatchPage({ ...needs, passkeys: 1 });
    expect(withKey).toContain('<input type="checkbox" id="sign-with-passkey" checked disabled>');
    expect(withKey).not.toContain('id="passkey-missing"');
    // Optional when no call needs it, for an approver with a passkey.
    expect(renderBatchPage({ ...m, passkeys: 1 })).toContain('<input type="checkbox" id="sign-with-passkey">');
  });

  it('says when nothing waits', () => {
    const m = model();
    expect(renderBatchPage({ ...m, view: { ...m.view, items: [] } })).toContain('id="batch-none"');
  });

  it('reports each call: recorded, or not recorded and why (escaped)', () => {
    const html = renderBatchResult({
      labels: { a: `first ${EVIL}`, b: 'second' },
      result: {
        recorded: 1,
        refused: 1,
        results: [
          { auth_req_id: 'a', outcome: 'recorded', status: 'approved', your_vote: 'approve', votes: { approve: 1, deny: 0 }, quorum: 1 },
          { auth_req_id: 'b', outcome: 'refused', error: 'request_closed', error_description: `closed ${EVIL}`, status: 'cancelled' },
        ],
      },
    });
    expect(html).toContain('Recorded 1 of 2 decisions');
    expect(html).toContain('you approved. Approved');
    expect(html).toContain('not recorded (closed &lt;script&gt;');
    expect(html).not.toContain('<script>alert');
  });
});
