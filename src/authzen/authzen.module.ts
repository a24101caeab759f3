/**
 * The OpenID AuthZEN Authorization API 1.0 face of the decision point: Access Evaluation,
 * Access Evaluations and PDP metadata. It owns no decision logic: every evaluation goes through
 * the authz part's `Authorize` use case (engine, parking, audit), mapped in ./authzen-mapping.
 */
import { Module } from '@nestjs/common';
import { AuthzModule } from '../authz/authz.module';
import { AuthZenController } from './authzen.controller';
import { EvaluateAccess } from './evaluate-access.usecase';

@Module({
  imports: [AuthzModule],
  controllers: [AuthZenController],
  providers: [EvaluateAccess],
})
export class AuthZenModule {}
