import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import type { TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { Task } from '@modelcontextprotocol/sdk/types.js';

/**
 * Where MCP tasks live, and the work behind each task this instance runs: a task the client
 * cancels (tasks/cancel, wherever it lands) aborts that work, so that a parked call's approval
 * request is cancelled with it.
 */
export interface GatewayTaskStore {
  /** The store an agent's session sees (tasks are scoped to their session, or to their agent when shared). */
  forAgent(agentKey: string): TaskStore;
  /** The signal the task's work runs under; aborted when the client cancels the task. */
  track(taskId: string): AbortController;
  done(taskId: string): void;
  /** The gateway stops: the work it runs is aborted. */
  close(): Promise<void>;
}

/** The work behind the tasks this instance runs, by task id: aborted when its task is cancelled or the gateway stops. */
export class TaskWork {
  private readonly running = new Map<string, AbortController>();

  track(taskId: string): AbortController {
    const controller = new AbortController();
    this.running.set(taskId, controller);
    return controller;
  }

  done(taskId: string): void {
    this.running.delete(taskId);
  }

  abort(taskId: string): void {
    this.running.get(taskId)?.abort();
  }

  ids(): string[] {
    return [...this.running.keys()];
  }

  abortAll(): void {
    for (const c of this.running.values()) c.abort();
    this.running.clear();
  }
}

/**
 * The SDK's in-memory task store (tasks scoped to their MCP session), plus cancellation of the
 * work behind a task.
 */
export class CancellableTaskStore extends InMemoryTaskStore implements GatewayTaskStore {
  private readonly work = new TaskWork();

  forAgent(): TaskStore {
    return this;
  }

  track(taskId: string): AbortController {
    return this.work.track(taskId);
  }

  done(taskId: string): void {
    this.work.done(taskId);
  }

  override async updateTaskStatus(taskId: string, status: Task['status'], statusMessage?: string, sessionId?: string): Promise<void> {
    await super.updateTaskStatus(taskId, status, statusMessage, sessionId);
    if (status === 'cancelled') this.work.abort(taskId);
  }

  override cleanup(): void {
    this.work.abortAll();
    super.cleanup();
  }

  async close(): Promise<void> {
    this.cleanup();
  }
}
