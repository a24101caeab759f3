import { parseArgs } from 'node:util';

/** `--name value` flags for the small CLIs; prints usage and exits on a mistake. */
export function cliFlags<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean; default?: string | boolean }>>(
  usage: string,
  options: T,
): Record<keyof T, string | boolean | undefined> {
  try {
    return parseArgs({ options: { ...options, help: { type: 'boolean' } }, allowPositionals: false }).values as unknown as Record<keyof T, string | boolean | undefined>;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nusage: ${usage}\n`);
    process.exit(2);
  }
}
