import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The transactional outbox: events written in the same transaction as the state change that
 * causes them (a parked request, a settled one, a notification owed), and moved to BullMQ in
 * batches by the dispatcher, which deletes each row once its jobs are in Redis. A row exists
 * until then, so a crash anywhere loses nothing; the jobs' ids are deterministic, so a row
 * dispatched twice makes its job once.
 */
export class Outbox1764100000000 implements MigrationInterface {
  name = 'Outbox1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        topic text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE outbox`);
  }
}
