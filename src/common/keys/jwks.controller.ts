import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorators';
import { ApiPublic, ApiSuccess } from '../openapi/openapi.decorators';
import { SigningKeys } from './signing-keys.service';

@ApiTags('keys')
@Controller('.well-known')
export class JwksController {
  constructor(private readonly keys: SigningKeys) {}

  /** Public keys that verify approval tokens (and approver links). Public by design. */
  @Public()
  @Get('jwks.json')
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOperation({ summary: 'The public keys that verify approval tokens and approver links (public, no credential)' })
  @ApiPublic()
  @ApiSuccess(200, 'A JWK Set: `{keys}`')
  jwks() {
    return this.keys.jwks();
  }
}
