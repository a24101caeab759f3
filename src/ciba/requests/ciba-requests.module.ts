import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApprovalFacade } from '../../approvals/approval-facade.port';
import { CibaRequest } from './ciba-request.entity';
import { CibaRequests } from './ciba-requests';

/**
 * CIBA's requests (ciba_requests) and its side of the lifecycle's ApprovalFacade port. Global and
 * in every process: the token endpoint, the park and the push callbacks (workers) read it.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([CibaRequest])],
  providers: [CibaRequests, { provide: ApprovalFacade, useExisting: CibaRequests }],
  exports: [CibaRequests, ApprovalFacade],
})
export class CibaRequestsModule {}
