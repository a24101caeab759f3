/** node-postgres's own conversion of a query parameter to what it sends (untyped in @types/pg). */
declare module 'pg/lib/utils' {
  /** The text node-postgres sends for a value (JSON for an object, an array literal for an array), a Buffer as it is, null for null and undefined. */
  export function prepareValue(value: unknown): string | Buffer | null;
}
