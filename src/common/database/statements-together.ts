import { DatabaseError } from 'pg';
import { DataSource } from 'typeorm';
import { GroupedCalls } from './grouped-calls';
import type { Statement } from './insert-statement';
import { runPrepared } from './prepared-statements';
import { executeStatement, SimpleQueryClient } from './transaction-begun-with';

/**
 * Independent statements (each its own change, none reading another's) in one round trip: one
 * simple query of their `EXECUTE`s, as runAndCommit sends one. Postgres runs the statements of one
 * query as one implicit transaction, all or none. When none did because one failed (an error
 * Postgres answered, with its SQLSTATE), each runs again on its own, so that a statement fails
 * only its own caller. Any other failure (the connection lost) is every statement's: whether they
 * committed is not known, as for one statement. Where EXECUTE cannot serve (not in `session`
 * mode, the names used up, a NUL in a value), each runs on its own through the protocol, at once.
 * Resolves with each statement's outcome: undefined, or the error it met.
 */
export async function runTogether(dataSource: DataSource, statements: Statement[]): Promise<unknown[]> {
  const alone = () =>
    Promise.all(
      statements.map((s) =>
        runPrepared(dataSource.manager, s.sql, s.params).then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
  if (statements.length < 2) return alone();
  const runner = dataSource.createQueryRunner();
  let executes: (string | undefined)[];
  try {
    const client = (await runner.connect()) as SimpleQueryClient;
    executes = [];
    // One after the other: the first use of a text PREPAREs it on this connection.
    for (const statement of statements) executes.push(await executeStatement(dataSource, client, statement));
    if (!executes.includes(undefined)) await client.query(executes.join('; '));
  } catch (e) {
    if (!(e instanceof DatabaseError)) return statements.map(() => e);
    executes = [undefined];
  } finally {
    await runner.release();
  }
  return executes.includes(undefined) ? alone() : statements.map(() => undefined);
}

/**
 * Independent statements asked for in one turn of the event loop go in one round trip
 * (runTogether, through GroupedCalls); each caller waits for its own statement and gets its own
 * error. For statements that change only rows of their own (a new request with its companions,
 * one delivery's record), so that running several in one transaction cannot make them wait on
 * each other.
 */
export class StatementsTogether {
  private asked = 0;
  private readonly calls: GroupedCalls<Statement & { id: string }, unknown>;

  constructor(dataSource: DataSource, limits: { maxInFlight: number; maxBatch: number }) {
    this.calls = new GroupedCalls(
      async (statements) => {
        const outcomes = await runTogether(dataSource, statements);
        return new Map(statements.map((s, i) => [s.id, outcomes[i]]));
      },
      (statement) => statement.id,
      limits,
    );
  }

  async run(statement: Statement): Promise<void> {
    const failed = await this.calls.call({ ...statement, id: String(++this.asked) });
    if (failed) throw failed;
  }
}
