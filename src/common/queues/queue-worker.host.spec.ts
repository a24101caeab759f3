import { Job, UnrecoverableError } from 'bullmq';
import { QueueWorkerHost } from './queue-worker.host';

type Name = 'expire' | 'remind';

/** A processor as the parts write them: it names every job its queue takes. */
class Handled extends QueueWorkerHost<{ id: string }, Name> {
  readonly seen: string[] = [];
  constructor() {
    super({ expire: true, remind: true });
  }
  protected async handle(job: Job<{ id: string }, unknown, Name>): Promise<string> {
    this.seen.push(`${job.name}:${job.data.id}`);
    return 'done';
  }
}

const job = (name: string) => ({ name, data: { id: 'r1' } }) as unknown as Job<{ id: string }, unknown, string>;

describe('QueueWorkerHost', () => {
  it('runs a job of a name it handles', async () => {
    const processor = new Handled();
    await expect(processor.process(job('remind'))).resolves.toBe('done');
    expect(processor.seen).toEqual(['remind:r1']);
  });

  it('fails a job under any other name at once, unretried, and never runs it', async () => {
    const processor = new Handled();
    const refused = processor.process(job('deliver'));
    await expect(refused).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(refused).rejects.toThrow('no handler for a job named "deliver" (this queue takes expire, remind)');
    expect(processor.seen).toEqual([]);
  });

  it('makes leaving a name out a compile error', () => {
    class Incomplete extends QueueWorkerHost<{ id: string }, Name> {
      constructor() {
        // @ts-expect-error: 'remind' has no handler
        super({ expire: true });
      }
      protected async handle(): Promise<void> {}
    }
    expect(new Incomplete()).toBeInstanceOf(QueueWorkerHost);
  });
});
