import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every callback attempt records the Idempotency-Key it was sent with: the same for every attempt
 * of one callback, so ops can match the gateway's deduplication log to ours. Rows written before
 * this migration have none.
 */
export class CallbackIdempotencyKey1764020000000 implements MigrationInterface {
  name = 'CallbackIdempotencyKey1764020000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE callback_attempts ADD COLUMN idempotency_key text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE callback_attempts DROP COLUMN idempotency_key`);
  }
}
