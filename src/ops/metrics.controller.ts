import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { OperatorAuth } from '../common/auth/auth.decorators';
import { Metrics } from './metrics.service';
import { ApiOperatorAuth } from '../common/openapi/openapi.decorators';

/**
 * Prometheus metrics (text exposition format). Behind an operator credential (scope
 * countersign:operator, subject in OPERATOR_SUBJECTS), never a tenant's countersign:admin: the
 * numbers are every tenant's. Prometheus scrapes with a bearer token, e.g.
 *
 *   scrape_configs:
 *     - job_name: countersign
 *       authorization:
 *         type: Bearer
 *         credentials_file: /etc/prometheus/countersign-token   # a long-lived operator JWT
 *       static_configs: [{ targets: ['countersign:3000'] }]
 *
 * The numbers are service-wide (all tenants), as the queues and the database are.
 */
@ApiTags('ops')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @OperatorAuth()
  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Prometheus metrics, service-wide (operators only)' })
  @ApiOperatorAuth()
  @ApiResponse({ status: 200, description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } })
  async scrape(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const body = await this.metrics.registry.metrics();
    reply.header('content-type', this.metrics.registry.contentType);
    return body;
  }
}
