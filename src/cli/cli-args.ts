import { parseArgs } from 'node:util';

type OptionSpec = { type: 'string' | 'boolean'; multiple?: boolean; default?: string | boolean };

/**
 * Parses `--name value` and `--name=value` flags. An option that takes a value takes the next
 * argument verbatim, even when it starts with "-": the service's ids are base64url and an
 * auth_req_id such as "-Xk3…" is a value, not an option (node's parseArgs alone refuses it as
 * ambiguous). Throws on an unknown option, a missing value or a positional argument.
 */
export function parseCliArgs<T extends Record<string, OptionSpec>>(args: string[], options: T): Record<keyof T, string | string[] | boolean | undefined> {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    if (name && options[name]?.type === 'string' && i + 1 < args.length) {
      joined.push(`${arg}=${args[++i]}`);
    } else {
      joined.push(arg);
    }
  }
  const { values } = parseArgs({ args: joined, options: { ...options, help: { type: 'boolean' } }, allowPositionals: false, strict: true });
  return values as unknown as Record<keyof T, string | string[] | boolean | undefined>;
}

/** `--name value` flags for the small CLIs; prints usage and exits on a mistake. */
export function cliFlags<T extends Record<string, OptionSpec>>(usage: string, options: T): Record<keyof T, string | boolean | undefined> {
  try {
    const values = parseCliArgs(process.argv.slice(2), options);
    if (values.help) {
      process.stdout.write(`usage: ${usage}\n`);
      process.exit(0);
    }
    return values as Record<keyof T, string | boolean | undefined>;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nusage: ${usage}\n`);
    process.exit(2);
  }
}
