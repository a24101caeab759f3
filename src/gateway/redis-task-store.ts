/**
 * MCP tasks in Redis, shared by every gateway instance: a task created through one instance is
 * read (tasks/get, tasks/result, tasks/list) and cancelled through any other, in any session of
 * the same agent, and never by another agent. The work behind a task runs on the instance that
 * created it; a cancel landing elsewhere reaches it over pub/sub.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { Request, RequestId, Result, Task } from '@modelcontextprotocol/sdk/types.js';
import type { Redis } from 'ioredis';
import { GatewayTaskStore, TaskWork } from './task-store';

/** A task is kept at most this long, whatever ttl the client asked for (none: this long). */
export const MAX_TASK_TTL_MS = 24 * 3600 * 1000;
const PAGE_SIZE = 10;
const TERMINAL = ['completed', 'failed', 'cancelled'];

// Moves a task on unless it is someone else's or already terminal (atomically: two instances may race).
const TRANSITION = `
local found = redis.call('HMGET', KEYS[1], 'agent', 'status')
if not found[1] or found[1] ~= ARGV[1] then return 'missing' end
if found[2] == 'completed' or found[2] == 'failed' or found[2] == 'cancelled' then return found[2] end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'lastUpdatedAt', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'statusMessage', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[5]) end
if tonumber(ARGV[6]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
return 'ok'`;

/**
 * Under `<prefix>:`: `task:<id>` (a hash: the task's fields, its owner's hash and its result),
 * `agent-tasks:<agent hash>` (the agent's task ids by creation time, for tasks/list), and the
 * channel `task-cancelled`.
 */
export class RedisTaskStore implements GatewayTaskStore {
  private readonly work = new TaskWork();
  private readonly channel: string;

  private constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
  ) {
    this.channel = `${prefix}:task-cancelled`;
  }

  static async open(redis: Redis, prefix: string): Promise<RedisTaskStore> {
    const subscriber = redis.duplicate({ enableReadyCheck: false, maxRetriesPerRequest: null });
    const store = new RedisTaskStore(redis, subscriber, prefix);
    subscriber.on('message', (channel: string, taskId: string) => {
      if (channel === store.channel) store.work.abort(taskId);
    });
    await subscriber.subscribe(store.channel);
    return store;
  }

  forAgent(agentKey: string): TaskStore {
    const agent = createHash('sha256').update(agentKey).digest('base64url');
    return {
      createTask: (params, requestId, request) => this.create(agent, params, requestId, request),
      getTask: (taskId) => this.get(agent, taskId),
      storeTaskResult: (taskId, status, result) => this.transition(agent, taskId, status, undefined, result),
      getTaskResult: (taskId) => this.result(agent, taskId),
      updateTaskStatus: (taskId, status, message) => this.transition(agent, taskId, status, message),
      listTasks: (cursor) => this.list(agent, cursor),
    };
  }

  track(taskId: string): AbortController {
    return this.work.track(taskId);
  }

  done(taskId: string): void {
    this.work.done(taskId);
  }

  /**
   * This instance stops: the tasks it works on fail, saying their approval request stays open and
   * that calling the tool again (through any instance) resumes it.
   */
  async close(): Promise<void> {
    const now = new Date().toISOString();
    const result = JSON.stringify({
      isError: true,
      content: [
        {
          type: 'text',
          text: 'The gateway instance running this task stopped. Its approval request stays open: call the same tool again with the same arguments to resume it.',
        },
      ],
    });
    await Promise.all(
      this.work.ids().map((taskId) =>
        this.redis
          .hget(this.key(taskId), 'agent')
          .then((agent) => agent && this.redis.eval(TRANSITION, 1, this.key(taskId), agent, 'failed', now, '', result, 0))
          .catch(() => undefined),
      ),
    );
    this.work.abortAll();
    this.subscriber.disconnect();
  }

  private key(taskId: string): string {
    return `${this.prefix}:task:${taskId}`;
  }

  private index(agent: string): string {
    return `${this.prefix}:agent-tasks:${agent}`;
  }

  private async create(agent: string, params: CreateTaskOptions, _requestId: RequestId, _request: Request): Promise<Task> {
    const createdAt = new Date().toISOString();
    const task: Task = {
      taskId: randomBytes(16).toString('hex'),
      status: 'working',
      ttl: params.ttl ?? null,
      createdAt,
      lastUpdatedAt: createdAt,
      pollInterval: params.pollInterval ?? 1000,
    };
    const keep = keptFor(task);
    const fields = {
      agent,
      taskId: task.taskId,
      status: task.status,
      ttl: JSON.stringify(task.ttl),
      createdAt,
      lastUpdatedAt: createdAt,
      pollInterval: String(task.pollInterval),
    };
    await this.redis
      .multi()
      .hset(this.key(task.taskId), fields)
      .pexpire(this.key(task.taskId), keep)
      .zadd(this.index(agent), Date.now(), task.taskId)
      .pexpire(this.index(agent), MAX_TASK_TTL_MS)
      .exec();
    return task;
  }

  private async get(agent: string, taskId: string): Promise<Task | null> {
    const h = await this.redis.hgetall(this.key(taskId));
    if (h.agent !== agent) return null;
    return {
      taskId: h.taskId,
      status: h.status as Task['status'],
      ttl: JSON.parse(h.ttl) as number | null,
      createdAt: h.createdAt,
      lastUpdatedAt: h.lastUpdatedAt,
      pollInterval: Number(h.pollInterval),
      ...(h.statusMessage ? { statusMessage: h.statusMessage } : {}),
    };
  }

  private async result(agent: string, taskId: string): Promise<Result> {
    const [owner, result] = await this.redis.hmget(this.key(taskId), 'agent', 'result');
    if (owner !== agent) throw new Error(`Task with ID ${taskId} not found`);
    if (!result) throw new Error(`Task ${taskId} has no result stored`);
    return JSON.parse(result) as Result;
  }

  private async transition(agent: string, taskId: string, status: Task['status'], message?: string, result?: Result): Promise<void> {
    const task = await this.get(agent, taskId);
    if (!task) throw new Error(`Task with ID ${taskId} not found`);
    // A terminal task is kept for its ttl from now (as the SDK's store does).
    const keep = TERMINAL.includes(status) ? keptFor(task) : 0;
    const outcome = await this.redis.eval(
      TRANSITION,
      1,
      this.key(taskId),
      agent,
      status,
      new Date().toISOString(),
      message ?? '',
      result ? JSON.stringify(result) : '',
      keep,
    );
    if (outcome === 'missing') throw new Error(`Task with ID ${taskId} not found`);
    if (outcome !== 'ok') throw new Error(`Cannot update task ${taskId} from terminal status '${String(outcome)}' to '${status}'.`);
    if (status === 'cancelled') {
      this.work.abort(taskId);
      await this.redis.publish(this.channel, taskId);
    }
  }

  private async list(agent: string, cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const ids = await this.redis.zrange(this.index(agent), 0, -1);
    const found = await Promise.all(ids.map((id) => this.get(agent, id)));
    const gone = ids.filter((_, i) => !found[i]);
    if (gone.length) await this.redis.zrem(this.index(agent), ...gone);
    const tasks = found.filter((t): t is Task => t !== null);
    let start = 0;
    if (cursor) {
      const at = tasks.findIndex((t) => t.taskId === cursor);
      if (at < 0) throw new Error(`Invalid cursor: ${cursor}`);
      start = at + 1;
    }
    const page = tasks.slice(start, start + PAGE_SIZE);
    return { tasks: page, ...(start + PAGE_SIZE < tasks.length ? { nextCursor: page.at(-1)!.taskId } : {}) };
  }
}

function keptFor(task: Task): number {
  return Math.min(task.ttl ?? MAX_TASK_TTL_MS, MAX_TASK_TTL_MS);
}
