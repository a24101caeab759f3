/**
 * CIBA clients: the registry of the clients of the standard CIBA endpoints (per tenant, admin
 * API) and OAuth client authentication for those endpoints (client_secret_basic,
 * client_secret_post, private_key_jwt). The endpoints themselves live in src/ciba/.
 */
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CibaClientRegistry } from './ciba-client-registry.service';
import { CibaClient } from './ciba-client.entity';
import { CibaClientsController } from './ciba-clients.controller';
import { CibaClientAuthentication } from './client-authentication.service';
import { ClientKeys } from './client-keys';
import { UsedClientAssertions } from './used-client-assertions.repository';
import { VerifiedClientSecrets } from './verified-client-secrets';

@Module({
  imports: [TypeOrmModule.forFeature([CibaClient])],
  controllers: [CibaClientsController],
  // CallbackEndpointPolicy (the SSRF allow-list for the URLs it registers) comes from the global ApprovalsModule.
  providers: [CibaClientRegistry, CibaClientAuthentication, ClientKeys, UsedClientAssertions, VerifiedClientSecrets],
  exports: [CibaClientRegistry, CibaClientAuthentication, ClientKeys],
})
export class CibaClientsModule {}
