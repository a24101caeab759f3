import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ProtocolError } from '../common/errors/protocol-errors';
import { AdminCredentials } from './admin-credentials';
import { ServiceQueues } from './service-queues';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * The BullMQ dashboard (bull-board) at /admin/queues, for every queue of the service.
 *
 * bull-board registers plain Fastify routes, which Nest's AuthGuard never sees; they live in an
 * encapsulated Fastify context whose onRequest hook admits only an admin: a gateway JWT with
 * the countersign:admin scope, as a bearer header or in the countersign_admin cookie (see
 * GET /admin/login). Otherwise 401 (with a Bearer challenge) or 403, as the API answers.
 *
 * Read-only: the countersign:admin scope is a tenant's admin, and the queues are shared by all
 * tenants, so no one here may retry, remove, add, clean or pause jobs through the board.
 */
@Injectable()
export class QueueDashboard implements OnModuleInit {
  private readonly logger = new Logger('QueueDashboard');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly queues: ServiceQueues,
    private readonly admin: AdminCredentials,
  ) {}

  /** Before app.listen()/init() boots Fastify: plugins registered here load with the rest. */
  onModuleInit(): void {
    const http = this.adapterHost.httpAdapter;
    if (!http) return; // an application context without HTTP: nothing to mount
    if (http.getType() !== 'fastify') {
      this.logger.warn(`queue dashboard not mounted: it needs the Fastify adapter (got ${http.getType()})`);
      return;
    }
    const board = new BullBoardFastifyAdapter();
    board.setBasePath(QUEUE_DASHBOARD_PATH);
    createBullBoard({
      queues: this.queues.all().map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
      serverAdapter: board,
      options: { uiConfig: { boardTitle: 'Countersign queues', hideDocsLink: true } },
    });

    const fastify = http.getInstance<FastifyInstance>();
    // No fastify-plugin wrapper: the hook stays inside this context (the dashboard's routes only).
    void fastify.register(async (dashboard) => {
      dashboard.addHook('onRequest', (request, reply) => this.authenticate(request, reply));
      await dashboard.register(board.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
    });
  }

  /** Answers 401/403 itself and returns the reply (Fastify then skips the route); else lets it through. */
  private async authenticate(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    try {
      await this.admin.verifyRequest(request.headers);
      return undefined;
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      return reply.status(e.status).headers(e.headers()).header('cache-control', 'no-store').send(e.body());
    }
  }
}
