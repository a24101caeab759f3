import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { InvalidRequest } from './errors/protocol-errors';
import { unstorableMembers } from './validation';

/**
 * Path parameters and query strings reach SQL, some without a schema (an id looked up as it
 * is): a NUL (`%00`) or an unpaired surrogate in one is a 400 naming it, never a 500 from
 * Postgres. Bodies are checked by `parseInput`, after their schema.
 */
@Injectable()
export class StorableParamsPipe implements PipeTransform {
  transform(value: unknown, { type, data }: ArgumentMetadata): unknown {
    if (type !== 'param' && type !== 'query') return value;
    const problems = unstorableMembers(value, data ? [data] : []);
    if (problems.length) throw InvalidRequest.forFields(problems);
    return value;
  }
}
