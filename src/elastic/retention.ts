import type { ElasticClient } from './client.js';
import cronParser from 'cron-parser';
import schedule from 'node-schedule';
import { ConfigurationError } from '../errors.js';
import type { IndexFamily } from './templates.js';

/**
 * Deletes daily indices older than each family's retention. Index names carry their day
 * (`<prefix>-<family>-YYYY.MM.DD`), so no query over documents is needed; indices that do not match the pattern
 * exactly are never touched.
 */

export type RetentionDays = Record<IndexFamily, number>;

export const DEFAULT_RETENTION_DAYS: RetentionDays = { events: 90, access: 14, alerts: 365, deadletter: 30 };

export interface RetentionOptions {
  client: ElasticClient;
  indexPrefix: string;
  days?: Partial<RetentionDays>;
  now?: () => number;
}

export interface RetentionResult {
  deleted: string[];
  kept: number;
}

const DAY = /^(\d{4})\.(\d{2})\.(\d{2})$/;

/** Which of `indices` are past retention at `now`. Pure, for tests. */
export function expiredIndices(indices: readonly string[], prefix: string, days: RetentionDays, now: number): string[] {
  const expired: string[] = [];
  for (const index of indices) {
    for (const family of Object.keys(days) as IndexFamily[]) {
      const head = `${prefix}-${family}-`;
      if (!index.startsWith(head)) continue;
      const match = DAY.exec(index.slice(head.length));
      if (!match) continue;
      const dayStart = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
      // Date.UTC rolls 2020.13.01 over into 2021: a name that is not a real calendar day is not ours to delete.
      if (new Date(dayStart).toISOString().slice(0, 10) !== `${match[1]}-${match[2]}-${match[3]}`) continue;
      // An index holds one whole day: it expires when the *end* of that day is older than the retention.
      if (dayStart + 86_400_000 + days[family] * 86_400_000 <= now) expired.push(index);
    }
  }
  return expired;
}

export function createRetention(options: RetentionOptions): () => Promise<RetentionResult> {
  const days = { ...DEFAULT_RETENTION_DAYS, ...options.days };
  for (const [family, value] of Object.entries(days)) {
    if (!Number.isInteger(value) || value < 1) throw new ConfigurationError(`Retention for ${family} must be a whole number of days, at least 1.`);
  }
  const now = options.now ?? Date.now;
  return async () => {
    const response = await options.client.cat.indices({ index: `${options.indexPrefix}-*`, format: 'json', h: 'index', expand_wildcards: ['open', 'closed'] });
    const indices = (response as Array<{ index?: string }>).map((row) => row.index ?? '').filter(Boolean);
    const deleted = expiredIndices(indices, options.indexPrefix, days, now());
    // One index per call: a name list could exceed URL limits and one failure should not stop the rest.
    for (const index of deleted) await options.client.indices.delete({ index });
    return { deleted, kept: indices.length - deleted.length };
  };
}

/** Runs `job` on `cron` with node-schedule; errors go to `onError`, never out of the timer. */
export function scheduleJob(name: string, cron: string, job: () => Promise<unknown>, onError: (error: unknown) => void): schedule.Job {
  // node-schedule reads a blank string as "every minute" and anything Date can parse as a one-off date: only
  // 5- or 6-field cron expressions get through.
  const fields = cron.trim().split(/\s+/);
  let problem = cron.trim() === '' || fields.length < 5 || fields.length > 6 ? '5 or 6 fields expected' : undefined;
  if (!problem) {
    try {
      // The parser node-schedule itself uses, so what passes here is what it will run.
      cronParser.parseExpression(cron);
    } catch (error) {
      problem = (error as Error).message;
    }
  }
  if (problem) throw new ConfigurationError(`The schedule "${cron}" for ${name} is not a cron expression (${problem}); for example "*/5 * * * *".`);
  const scheduled = schedule.scheduleJob(name, cron, () => {
    job().catch(onError);
  });
  if (!scheduled) throw new ConfigurationError(`The schedule "${cron}" for ${name} is not a valid cron expression.`);
  return scheduled;
}
