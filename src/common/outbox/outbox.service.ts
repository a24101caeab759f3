import { Injectable, Logger } from '@nestjs/common';
import type { JobsOptions, Queue } from 'bullmq';
import type { EntityManager } from 'typeorm';
import type { Statement } from '../database/insert-statement';

/** An event written with the state change that causes it; the payload carries ids and times, never state to trust later. */
export interface OutboxEvent {
  topic: string;
  payload: Record<string, unknown>;
}

/** The jobs a subscriber wants for a batch of events: BullMQ's addBulk entries for one queue. */
export interface OutboxJobs {
  queue: Queue;
  jobs: { name: string; data: unknown; opts: JobsOptions & { jobId: string } }[];
}

/** Turns a batch of one topic's payloads into jobs. Job ids must be deterministic: a batch may be dispatched twice. */
export type OutboxSubscriber = (payloads: Record<string, unknown>[]) => OutboxJobs[];

/**
 * The writing side of the transactional outbox (see the outbox migration), and the registry of
 * who reacts to which topic. A part writes its events inside its own transaction or statement
 * and calls `committed()` after the commit, which wakes this process's dispatcher (if it runs
 * one) at once instead of at its next poll; that is a function call, not a Redis round trip.
 */
@Injectable()
export class Outbox {
  private readonly logger = new Logger(Outbox.name);
  private readonly subscribers = new Map<string, OutboxSubscriber[]>();
  private wakeDispatcher?: () => void;

  /** Called by the parts at start-up: `topic`'s events become these jobs. */
  subscribe(topic: string, subscriber: OutboxSubscriber): void {
    this.subscribers.set(topic, [...(this.subscribers.get(topic) ?? []), subscriber]);
  }

  subscribersOf(topic: string): OutboxSubscriber[] {
    return this.subscribers.get(topic) ?? [];
  }

  /** The INSERT for these events, for a caller that combines it with its state change in one statement; parameters from `paramOffset + 1`. */
  insertStatement(events: OutboxEvent[], paramOffset = 0): Statement {
    const params: unknown[] = [];
    const tuples = events.map((e) => `($${paramOffset + params.push(e.topic)}, $${paramOffset + params.push(JSON.stringify(e.payload))}::jsonb)`);
    return { sql: `INSERT INTO outbox (topic, payload) VALUES ${tuples.join(', ')}`, params };
  }

  /** Writes events inside the caller's transaction. */
  async append(manager: EntityManager, ...events: OutboxEvent[]): Promise<void> {
    if (!events.length) return;
    const { sql, params } = this.insertStatement(events);
    await manager.query(sql, params);
  }

  /** After a commit that wrote events: dispatch soon. */
  committed(): void {
    try {
      this.wakeDispatcher?.();
    } catch (e) {
      // The poll picks the events up anyway.
      this.logger.warn(`waking the outbox dispatcher failed: ${(e as Error).message}`);
    }
  }

  /** The dispatcher of this process, if it runs one. */
  onCommit(wake: (() => void) | undefined): void {
    this.wakeDispatcher = wake;
  }
}
