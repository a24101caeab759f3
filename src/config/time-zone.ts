/** Is `zone` an IANA time zone this runtime's Intl knows? (Validates configuration at start-up.) */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
