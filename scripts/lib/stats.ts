// The order statistics the benchmark scripts report. One definition, so that a "p99" or a median means the same in
// every table of docs/performance.md: the nearest-rank value (no interpolation), 0 for no samples.

/** The value below which `p` percent of the samples lie (nearest rank, rounded down; p in 0–100). */
export function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** The middle sample (the upper one of two for an even count). */
export const median = (xs: readonly number[]): number => percentile(xs, 50);
