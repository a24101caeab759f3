import { messageIdDomain, threadHeaders } from './email.channel';

describe("an approver e-mail's names", () => {
  describe('the domain of its Message-ID', () => {
    const publicUrl = 'https://approvals.acme.example';

    it("is MAIL_FROM's, whether written with a display name or bare", () => {
      expect(messageIdDomain({ MAIL_FROM: 'Countersign <approvals@mail.acme.example>', PUBLIC_URL: publicUrl })).toBe('mail.acme.example');
      expect(messageIdDomain({ MAIL_FROM: 'approvals@acme.example', PUBLIC_URL: publicUrl })).toBe('acme.example');
    });

    it("is PUBLIC_URL's host name when MAIL_FROM names no usable domain", () => {
      expect(messageIdDomain({ MAIL_FROM: 'Countersign', PUBLIC_URL: publicUrl })).toBe('approvals.acme.example');
      expect(messageIdDomain({ MAIL_FROM: 'x <a@[10.0.0.1]>', PUBLIC_URL: publicUrl })).toBe('approvals.acme.example');
    });

    it('is a placeholder when neither is a domain name (an IPv6 address)', () => {
      expect(messageIdDomain({ MAIL_FROM: 'Countersign', PUBLIC_URL: 'http://[::1]:3000' })).toBe('countersign.invalid');
    });
  });

  describe('its Message-ID and thread', () => {
    const request = '7d1c1f0e-8a52-4c1e-9f0a-2b8e51f6a001';

    it('names the delivery within its request, and refers to the request as the thread', () => {
      expect(threadHeaders({ id: '41', approval_id: request, review_id: null, round: 'initial' }, 'acme.example')).toEqual({
        messageId: `<${request}.41@acme.example>`,
        references: `<${request}@acme.example>`,
      });
    });

    it("answers the thread in a reminder's or an escalation's round", () => {
      for (const round of ['reminder', 'escalation'] as const) {
        expect(threadHeaders({ id: '42', approval_id: request, review_id: null, round }, 'acme.example')).toEqual({
          messageId: `<${request}.42@acme.example>`,
          references: `<${request}@acme.example>`,
          inReplyTo: `<${request}@acme.example>`,
        });
      }
    });

    it("threads a sampled review's e-mails on the review", () => {
      const review = 'c0ffee00-0000-4000-8000-000000000001';
      expect(threadHeaders({ id: '43', approval_id: null, review_id: review, round: null as never }, 'acme.example')).toEqual({
        messageId: `<${review}.43@acme.example>`,
        references: `<${review}@acme.example>`,
      });
    });
  });
});
