import { buildDailyReview, storeDailyReview, type DailyReview } from './anomaly/review.js';
import type { AnomalyRunner, RunResult } from './anomaly/runner.js';
import type { ElasticClient } from './elastic/client.js';
import { createRetention, scheduleJob, type RetentionDays, type RetentionResult } from './elastic/retention.js';

/**
 * The scheduled jobs, each a node-schedule job that never overlaps itself and never throws out of its timer:
 * a failed run is reported through `onError` and the next run catches up.
 */

export interface ScheduledJob {
  cancel(): void;
}

export const JOB_DEFAULTS = {
  anomalyCron: '*/5 * * * *',
  reviewCron: '0 23 * * *',
  retentionCron: '30 3 * * *',
} as const;

export interface JobHooks<R> {
  /** Cron expression (5 or 6 fields), validated once here. */
  cron?: string;
  onResult?: (result: R) => void;
  onError?: (error: unknown) => void;
}

/** Runs `job` on `cron`; a run that is still going when the next is due is not started twice. */
function scheduleExclusive<R>(name: string, cron: string, job: () => Promise<R>, hooks: JobHooks<R>): ScheduledJob {
  let running = false;
  return scheduleJob(name, cron, async () => {
    if (running) return;
    running = true;
    try {
      const result = await job();
      hooks.onResult?.(result);
    } finally {
      running = false;
    }
  }, (error) => hooks.onError?.(error));
}

/** The anomaly runner on a schedule (default every 5 minutes). */
export function scheduleAnomalyRuns(runner: AnomalyRunner, hooks: JobHooks<RunResult> = {}): ScheduledJob {
  return scheduleExclusive('anomalies', hooks.cron ?? JOB_DEFAULTS.anomalyCron, () => runner.run(), hooks);
}

export interface DailyReviewJobOptions extends JobHooks<DailyReview> {
  client: ElasticClient;
  indexPrefix: string;
  now?: () => number;
}

/** Builds and stores the daily review (default 23:00 UTC), handing it to `onResult` (print it, mail it). */
export function scheduleDailyReview(options: DailyReviewJobOptions): ScheduledJob {
  const now = options.now ?? Date.now;
  return scheduleExclusive('review', options.cron ?? JOB_DEFAULTS.reviewCron, async () => {
    const review = await buildDailyReview(options.client, options.indexPrefix, new Date(now()));
    await storeDailyReview(options.client, options.indexPrefix, review);
    return review;
  }, options);
}

export interface RetentionJobOptions extends JobHooks<RetentionResult> {
  client: ElasticClient;
  indexPrefix: string;
  days?: Partial<RetentionDays>;
  now?: () => number;
}

/** Deletes daily indices past their retention (default 03:30 UTC daily). */
export function scheduleRetention(options: RetentionJobOptions): ScheduledJob {
  const retention = createRetention({ client: options.client, indexPrefix: options.indexPrefix, days: options.days, now: options.now });
  return scheduleExclusive('retention', options.cron ?? JOB_DEFAULTS.retentionCron, retention, options);
}
