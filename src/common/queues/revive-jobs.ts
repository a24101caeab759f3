import { Queue } from 'bullmq';

/**
 * Finished jobs are kept for a while (an hour when completed, a week when failed), and re-adding
 * a job whose id still exists is a no-op. When Postgres says a job's work is still owed (e.g. it
 * failed for good during a database outage), the finished job is removed so it can be re-added.
 */
export async function dropFinishedJobs(queue: Queue, jobIds: string[]): Promise<void> {
  await Promise.all(
    jobIds.map(async (id) => {
      const job = await queue.getJob(id);
      if (!job) return;
      const state = await job.getState();
      if (state === 'completed' || state === 'failed') await job.remove();
    }),
  );
}
