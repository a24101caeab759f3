/**
 * Facts the policies need that are read from the call's arguments. Deliberately simple and
 * documented (README), so a policy author knows exactly what sets each flag; a gateway that
 * knows better sets the same flags through its risk signals.
 */
const DESTINATION_KEYS = /^(url|uri|endpoint|webhook|destination|target|to|recipient|recipients|email|cc|bcc)$/i;
const EMAIL = /^[^@\s]+@([^@\s]+)$/;

/** The call's amount in whole units, rounded up (9,999.5 is not below 10,000), from an `amount` argument. */
export function amountOf(args: Record<string, unknown>): number | null {
  const raw = args.amount;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  // Clamped to what Cedar's 64-bit Long holds (and JS numbers hold exactly): a huge amount is still huge.
  return Number.isFinite(n) ? Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.ceil(n))) : null;
}

/** Does any destination-like argument point outside the tenant's own domains? */
export function hasExternalDestination(args: Record<string, unknown>, internalDomains: string[]): boolean {
  const values: string[] = [];
  for (const [key, value] of Object.entries(args)) {
    if (!DESTINATION_KEYS.test(key)) continue;
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') values.push(v);
  }
  return values.some((v) => {
    const host = hostOf(v);
    return host !== undefined && !internalDomains.some((d) => host === d || host.endsWith(`.${d}`));
  });
}

function hostOf(value: string): string | undefined {
  const email = EMAIL.exec(value);
  if (email) return email[1].toLowerCase();
  try {
    const url = new URL(value);
    return url.hostname ? url.hostname.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/** Does the call reach many subjects at once ("all", "*", a flag, or a long list)? */
export function isBulk(args: Record<string, unknown>): boolean {
  return Object.entries(args).some(([key, value]) => {
    if (value === true && /^(all|bulk|everyone|all_users)$/i.test(key)) return true;
    if (typeof value === 'string') return value === '*' || /^all\b/i.test(value.trim());
    return Array.isArray(value) && value.length >= 25;
  });
}
