import { DynamicModule, Module } from '@nestjs/common';
import { ApprovalsModule } from './approvals/approvals.module';
import { AuditModule } from './audit/audit.module';
import { AuthzModule } from './authz/authz.module';
import { AuthZenModule } from './authzen/authzen.module';
import { CibaModule } from './ciba/ciba.module';
import { CibaRequestsModule } from './ciba/requests/ciba-requests.module';
import { CommonModule } from './common/common.module';
import { DatabaseModule } from './common/database/database.module';
import { OutboxModule } from './common/outbox/outbox.module';
import { QueuesModule } from './common/queues/queues.module';
import { RedisModule } from './common/redis/redis.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { NotificationsModule } from './notifications/notifications.module';
import { OpsModule } from './ops/ops.module';

/** What every process needs: configuration, Postgres, Redis, queues, the outbox (dispatched by workers), auth and keys, audit. */
function foundation(config: AppConfig, http: boolean, workers: boolean) {
  return [
    ConfigModule.forRoot(config),
    DatabaseModule,
    RedisModule,
    QueuesModule,
    OutboxModule.register({ workers }),
    CommonModule,
    AuditModule.register({ http }),
  ];
}

@Module({})
export class AppModule {
  /** The API process; it also runs the queue workers unless RUN_WORKERS=false. */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ...foundation(config, true, config.RUN_WORKERS),
        ApprovalsModule.register({ http: true, workers: config.RUN_WORKERS }),
        NotificationsModule.register({ http: true, workers: config.RUN_WORKERS }),
        AuthzModule,
        AuthZenModule,
        CibaModule,
        CibaRequestsModule,
        OpsModule,
      ],
    };
  }
}

@Module({})
export class WorkerModule {
  /** A worker-only process (npm run start:worker): queues and reconciler, no HTTP. */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ...foundation(config, false, true),
        ApprovalsModule.register({ http: false, workers: true }),
        NotificationsModule.register({ http: false, workers: true }),
        // A push callback re-evaluates the call before it carries a token (RedeemReevaluation).
        AuthzModule,
        // A push callback to a CIBA client carries CIBA's token response (ApprovalFacade).
        CibaRequestsModule,
      ],
    };
  }
}
