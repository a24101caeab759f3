/** Cedar's `decimal`: a signed 64-bit count of ten-thousandths. */
const MAX = 9223372036854775807n;
const MIN = -9223372036854775808n;

/**
 * The `decimal("…")` argument for a JS number, always with four decimals ("12.3400"), or undefined
 * when decimal cannot hold it exactly (more than 4 decimals, or out of range). Deterministic: it
 * starts from the shortest string that round-trips the number (what JSON.stringify writes), so
 * 0.1 is "0.1000" and 0.1 + 0.2 (0.30000000000000004) is refused rather than rounded.
 */
export function toCedarDecimal(n: number): string | undefined {
  if (!Number.isFinite(n)) return undefined;
  const text = String(n); // -0 prints as "0"
  // Exponent form is only used below 1e-6 (too many decimals) or from 1e21 (out of range), except 0.
  if (/e/i.test(text)) return undefined;
  const negative = text.startsWith('-');
  const [whole, fraction = ''] = (negative ? text.slice(1) : text).split('.');
  if (fraction.length > 4) return undefined;
  const digits = fraction.padEnd(4, '0');
  const scaled = BigInt(whole + digits) * (negative ? -1n : 1n);
  if (scaled > MAX || scaled < MIN) return undefined;
  return `${negative && scaled !== 0n ? '-' : ''}${whole}.${digits}`;
}
