import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { Public } from '../common/auth/auth.decorators';
import { MigrationsHealthIndicator, RedisHealthIndicator } from './health-indicators';
import { ApiPublic, ApiSuccess } from '../common/openapi/openapi.decorators';

@ApiTags('ops')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly migrations: MigrationsHealthIndicator,
  ) {}

  /** Liveness: the process answers. Also the bare-endpoint baseline of the benchmarks. */
  @Public()
  @Get('live')
  @ApiOperation({ summary: 'Liveness (public, no credential)' })
  @ApiPublic()
  @ApiSuccess(200, '`{status: "ok"}`')
  live() {
    return { status: 'ok' };
  }

  /**
   * Readiness: Postgres and Redis answer and the schema is migrated. 200 with terminus's
   * `{status: 'ok', info, error, details}`, else 503 with the same body (`error` names the
   * failed checks; also 503 while shutting down). The body is sent here, not thrown: the
   * global error filter would turn any 5xx into a bare server_error.
   */
  @Public()
  @Get('ready')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness: Postgres, Redis and migrations (public, no credential)' })
  @ApiPublic()
  @ApiSuccess(200, 'Ready: `{status: "ok", info, error, details}`')
  @ApiSuccess(503, 'Not ready (or shutting down): the same body, `error` names the failed checks')
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      return await this.health.check([
        () => this.database.pingCheck('database', { timeout: 1_000 }),
        () => this.redis.pingCheck('redis'),
        () => this.migrations.isUpToDate('migrations'),
      ]);
    } catch (e) {
      if (!(e instanceof ServiceUnavailableException)) throw e;
      reply.status(503);
      return e.getResponse();
    }
  }
}
