import { Queue } from 'bullmq';

/** How long finished jobs are kept (what dropFinishedJobs below has to replace): an hour completed, a week failed. */
export const KEEP_FINISHED = { removeOnComplete: { age: 3600 }, removeOnFail: { age: 7 * 24 * 3600 } };

/**
 * Finished jobs are kept for a while (an hour when completed, a week when failed), and re-adding
 * a job whose id still exists is a no-op. When Postgres says a job's work is still owed (e.g. it
 * failed for good during a database outage), the finished job is removed so it can be re-added.
 */
export async function dropFinishedJobs(queue: Queue, jobIds: string[]): Promise<void> {
  await Promise.all(
    jobIds.map(async (id) => {
      const state = await queue.getJobState(id);
      if (state === 'completed' || state === 'failed') await queue.remove(id);
    }),
  );
}
