import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import type { Task } from '@modelcontextprotocol/sdk/types.js';

/**
 * The SDK's in-memory task store (tasks scoped to their MCP session), plus one thing: a task the
 * client cancels (tasks/cancel) aborts the work behind it, so that a parked call's approval
 * request is cancelled with it.
 */
export class CancellableTaskStore extends InMemoryTaskStore {
  private readonly work = new Map<string, AbortController>();

  /** The signal the task's work runs under; aborted when the client cancels the task. */
  track(taskId: string): AbortController {
    const controller = new AbortController();
    this.work.set(taskId, controller);
    return controller;
  }

  done(taskId: string): void {
    this.work.delete(taskId);
  }

  override async updateTaskStatus(taskId: string, status: Task['status'], statusMessage?: string, sessionId?: string): Promise<void> {
    await super.updateTaskStatus(taskId, status, statusMessage, sessionId);
    if (status === 'cancelled') this.work.get(taskId)?.abort();
  }

  override cleanup(): void {
    for (const c of this.work.values()) c.abort();
    this.work.clear();
    super.cleanup();
  }
}
