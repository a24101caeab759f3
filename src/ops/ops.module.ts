/** Ops: health, Prometheus metrics and the BullMQ dashboard. Only in the API process (AppModule). */
import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { OperatorCredentials } from './operator-credentials';
import { AdminLoginController } from './admin-login.controller';
import { HealthController } from './health.controller';
import { MigrationsHealthIndicator, RedisHealthIndicator } from './health-indicators';
import { MetricsController } from './metrics.controller';
import { DomainMetrics } from '../common/metrics/domain-metrics';
import { Metrics } from './metrics.service';
import { QueueDashboard } from './queue-dashboard.service';
import { ServiceQueues } from './service-queues';

// Global so that the other modules can inject Metrics to record their events.
@Global()
@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'json' })],
  controllers: [HealthController, MetricsController, AdminLoginController],
  providers: [
    Metrics,
    { provide: DomainMetrics, useExisting: Metrics },
    ServiceQueues,
    RedisHealthIndicator,
    MigrationsHealthIndicator,
    OperatorCredentials,
    QueueDashboard,
  ],
  exports: [Metrics, DomainMetrics],
})
export class OpsModule {}
