/**
 * Whether two kinds of request cost the same, judged from interleaved pairs of timings (a_i, b_i) taken back to
 * back: the median over pairs of ln(a_i / b_i). Each pair shares the load the machine was under at that moment,
 * so a busy scheduler moves both of its samples and cancels out of the ratio, and a preempted sample only moves
 * its own pair, which the median ignores. A consistent difference moves every pair's ratio by the same amount
 * and so moves the median by exactly that amount: with a band of ±15 %, a 40 % difference (ln 1.4 = 0.34, more
 * than twice ln 1.15 = 0.14) fails wherever equal costs would have passed.
 */

/** Largest accepted ratio (and smallest, its inverse) of the paired median. */
export const SAME_COST_BAND = 1.15;

export interface SameCostVerdict {
  /** exp(median of ln(a_i / b_i)): how much more a costs than b, as a factor. */
  ratio: number;
  pass: boolean;
  pairs: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function judgeSameCost(a: readonly number[], b: readonly number[], band = SAME_COST_BAND): SameCostVerdict {
  if (a.length !== b.length || a.length < 20) throw new Error(`judgeSameCost needs at least 20 pairs (${a.length} and ${b.length} samples)`);
  const logRatio = median(a.map((value, i) => Math.log(value / b[i]!)));
  return { ratio: Math.exp(logRatio), pass: Math.abs(logRatio) <= Math.log(band), pairs: a.length };
}

