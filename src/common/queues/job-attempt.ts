/** A run of a queue job: its attempt number (from 1), and whether the queue will run it again if it fails. */
export interface JobAttempt {
  attempt: number;
  lastAttempt: boolean;
}

/**
 * The run after `attemptsMade` failed ones, of a job allowed `attempts` runs (BullMQ's default is
 * one). The run that reaches the limit is the last: a handler records its failure as final there
 * instead of asking for a retry the queue would not make.
 */
export function jobAttempt(attemptsMade: number, attempts: number | undefined): JobAttempt {
  const attempt = attemptsMade + 1;
  return { attempt, lastAttempt: attempt >= (attempts ?? 1) };
}
