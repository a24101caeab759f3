/** A JSON object stored in a jsonb column. `any` because TypeORM's insert types cannot express `unknown`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonObject = Record<string, any>;
