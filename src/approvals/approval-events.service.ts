import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { RedisBus } from '../common/redis/redis-bus.service';

const SETTLED = 'approval-settled';
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
  constructor(private readonly bus: RedisBus) {}

  async onModuleInit(): Promise<void> {
    await this.bus.subscribe(SETTLED, (message) => {
      const approvalId = (message as Partial<SettledMessage>)?.approvalId;
      if (typeof approvalId === 'string') this.wake(approvalId);
      else this.logger.warn('ignored a malformed settlement message');
    });
  }

  async onModuleDestroy(): Promise<void> {
    for (const id of [...this.waiters.keys()]) this.wake(id);
  }

  async publishSettled(message: SettledMessage): Promise<void> {
    await this.bus.publish(SETTLED, message);
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
