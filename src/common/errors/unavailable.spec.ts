/// <reference types="jest" />
// The build tsconfig also compiles src/** (without jest types), hence the reference above.
import { QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { isDependencyUnavailable } from './unavailable';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isDependencyUnavailable', () => {
  it.each([
    ['connect ECONNREFUSED', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['pg-pool timeout', new Error('timeout exceeded when trying to connect')],
    ['connection terminated', new Error('Connection terminated unexpectedly')],
    ['admin shutdown (57P01)', withCode('terminating connection due to administrator command', '57P01')],
    ['cannot connect now (57P03)', withCode('the database system is starting up', '57P03')],
    ['too many connections (53300)', withCode('sorry, too many clients already', '53300')],
    ['connection exception class 08', withCode('connection failure', '08006')],
    ['ALLOW_CONNECTIONS false', withCode('database "x" is not currently accepting connections', '55000')],
    ['QueryFailedError wrapping a driver error', Object.assign(new Error('Query failed'), { driverError: new Error('Connection terminated unexpectedly') })],
    ['a cause chain', new Error('load failed', { cause: withCode('read ECONNRESET', 'ECONNRESET') })],
    ['AggregateError of connection attempts', new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], '')],
    ['a transaction whose connection was lost between two queries', new QueryRunnerProviderAlreadyReleasedError()],
    ['ioredis closed', new Error('Connection is closed.')],
    ['ioredis max retries', Object.assign(new Error('Reached the max retries per request limit (which is 20).'), { name: 'MaxRetriesPerRequestError' })],
  ])('%s is a dependency outage', (_name, error) => {
    expect(isDependencyUnavailable(error)).toBe(true);
  });

  it.each([
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a unique violation', withCode('duplicate key value violates unique constraint', '23505')],
    ['invalid input', withCode('invalid byte sequence for encoding "UTF8": 0x00', '22021')],
    ['not an error', 'Connection terminated'],
    ['nothing', undefined],
  ])('%s is not', (_name, error) => {
    expect(isDependencyUnavailable(error)).toBe(false);
  });
});
