// How the code pages speak of the second factor's lockout: a length in words, computed from the injectable clock,
// never a clock time (a UTC time of day means little to a user in another time zone, and nothing to one who misreads
// the zone).

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

function minutesInWords(minutes: number): string {
  if (minutes < 60) return plural(minutes, 'minute');
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${plural(hours, 'hour')} ${plural(rest, 'minute')}` : plural(hours, 'hour');
}

/** "less than a minute", "1 minute", "14 minutes", "2 hours 5 minutes": what is left of a lock, to the nearest
 *  minute (a user who comes back then is at most half a minute early, and the page then says "less than a minute"). */
export function timeLeftInWords(ms: number): string {
  return ms < 60_000 ? 'less than a minute' : minutesInWords(Math.round(ms / 60_000));
}

/** The configured length of a lock: "15 minutes", "1 hour", or seconds when it is shorter than a minute. */
export function lockLengthInWords(seconds: number): string {
  return seconds < 60 ? plural(Math.max(1, Math.round(seconds)), 'second') : minutesInWords(Math.round(seconds / 60));
}

/** The refusal while the factor is locked. */
export const lockedMessage = (until: Date, now: Date) =>
  `Too many wrong codes: two-factor sign-in is locked. Try again in ${timeLeftInWords(until.getTime() - now.getTime())}.`;

/** The warning before the last try. */
export const lastTryMessage = (lockoutSeconds: number) =>
  `One more wrong code locks two-factor sign-in for ${lockLengthInWords(lockoutSeconds)}.`;
