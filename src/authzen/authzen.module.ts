/**
 * The OpenID AuthZEN Authorization API 1.0 face of the decision point: Access Evaluation,
 * Access Evaluations and PDP metadata. It owns no decision logic: every evaluation goes through
 * the authz part's `Authorize` use case (engine, parking, audit), mapped in ./authzen-mapping.
 */
import { Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { AuthzModule } from '../authz/authz.module';
import { EVALUATION_PATH, EVALUATIONS_PATH, METADATA_PATH } from './authzen-metadata';
import { AuthZenController } from './authzen.controller';
import { EvaluateAccess } from './evaluate-access.usecase';

@Module({
  imports: [AuthzModule],
  controllers: [AuthZenController],
  providers: [EvaluateAccess],
})
export class AuthZenModule implements OnModuleInit {
  constructor(private readonly http: HttpAdapterHost) {}

  /**
   * AuthZEN §10.1.3: the PDP MUST answer with the same X-Request-ID the PEP sent, an arbitrary
   * string. The service echoes only plain tokens (others are replaced, to keep logs clean); here
   * the PEP's own value goes back as it came, on every answer of these routes, errors included.
   * The logs and the audit keep the sanitised id.
   */
  onModuleInit(): void {
    const fastify = this.http.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify?.addHook) return;
    const paths = new Set([EVALUATION_PATH, EVALUATIONS_PATH, METADATA_PATH]);
    fastify.addHook('onSend', (request, reply, payload, done) => {
      const sent = request.headers['x-request-id'];
      if (typeof sent === 'string' && paths.has(request.url.split('?')[0])) reply.header('x-request-id', sent);
      done(null, payload);
    });
  }
}
