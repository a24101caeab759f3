import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { RedisConnections } from '../common/redis/redis.module';
import { ApprovalStatus } from './approval-request.entity';

interface SettledMessage {
  tenantId: string;
  approvalId: string;
  status: ApprovalStatus;
}

/**
 * Wakes long-polls on every instance: a settled request is announced on a Redis channel; each
 * instance resolves its own local waiters. The database stays the truth: a woken waiter
 * re-reads the request.
 */
@Injectable()
export class ApprovalEvents implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ApprovalEvents.name);
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly channel: string;

  constructor(private readonly redis: RedisConnections) {
    this.channel = redis.key('approval-settled');
  }

  async onModuleInit(): Promise<void> {
    this.redis.subscriber.on('message', (channel, message) => {
      if (channel !== this.channel) return;
      try {
        const { approvalId } = JSON.parse(message) as SettledMessage;
        this.wake(approvalId);
      } catch (e) {
        this.logger.warn(`ignored a malformed settlement message: ${(e as Error).message}`);
      }
    });
    await this.redis.subscriber.subscribe(this.channel);
  }

  async onModuleDestroy(): Promise<void> {
    for (const id of [...this.waiters.keys()]) this.wake(id);
  }

  async publishSettled(message: SettledMessage): Promise<void> {
    await this.redis.commands.publish(this.channel, JSON.stringify(message));
  }

  /**
   * Registers a waiter before the caller reads the database, so a decision that lands between
   * the read and the wait is not missed. Resolves true when woken, false on timeout.
   */
  waitFor(approvalId: string, timeoutMs: number): { settled: Promise<boolean>; cancel: () => void } {
    let done!: (woken: boolean) => void;
    const settled = new Promise<boolean>((resolve) => (done = resolve));
    const wake = () => finish(true);
    const timer = setTimeout(() => finish(false), timeoutMs);
    const finish = (woken: boolean) => {
      clearTimeout(timer);
      const set = this.waiters.get(approvalId);
      set?.delete(wake);
      if (set && set.size === 0) this.waiters.delete(approvalId);
      done(woken);
    };
    const set = this.waiters.get(approvalId) ?? new Set();
    set.add(wake);
    this.waiters.set(approvalId, set);
    return { settled, cancel: () => finish(false) };
  }

  private wake(approvalId: string): void {
    const set = this.waiters.get(approvalId);
    if (!set) return;
    for (const fn of [...set]) fn();
  }
}
