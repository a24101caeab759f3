import { Module } from '@nestjs/common';
import { CibaController } from './ciba.controller';
import { CibaClientsModule } from './clients/ciba-clients.module';
import { StartBackchannelAuthentication } from './start-backchannel-authentication.usecase';

/** Standard OpenID CIBA (discovery, backchannel authentication, token) over the approval lifecycle. */
@Module({
  // The approval lifecycle's use cases come from the global ApprovalsModule.
  imports: [CibaClientsModule],
  controllers: [CibaController],
  providers: [StartBackchannelAuthentication],
})
export class CibaModule {}
