import { Injectable } from '@nestjs/common';
import { Passkeys, PasskeySummary } from '../../approvals/passkeys/passkeys.service';
import { ApproverDirectory } from './approver-directory.service';

/**
 * An admin's view of an approver's passkeys, and their way out when a device is lost or
 * compromised: list them, remove one, or reset them all (the approver's next registration is then
 * a first one again). The directory vouches that the approver is the admin's tenant's (else 404);
 * the passkeys part owns the rest.
 */
@Injectable()
export class ApproverPasskeys {
  constructor(
    private readonly directory: ApproverDirectory,
    private readonly passkeys: Passkeys,
  ) {}

  async list(tenantId: string, approverId: string): Promise<{ passkeys: PasskeySummary[]; always: boolean }> {
    await this.directory.getApprover(tenantId, approverId);
    return this.passkeys.list({ tenantId, approverId });
  }

  async remove(tenantId: string, approverId: string, passkeyId: string, actor: string): Promise<void> {
    await this.directory.getApprover(tenantId, approverId);
    await this.passkeys.removeByAdmin({ tenantId, approverId }, passkeyId, actor);
  }

  async reset(tenantId: string, approverId: string, actor: string): Promise<void> {
    await this.directory.getApprover(tenantId, approverId);
    await this.passkeys.resetByAdmin({ tenantId, approverId }, actor);
  }
}
