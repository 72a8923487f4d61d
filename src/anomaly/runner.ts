import { isResponseError, type ElasticClient, type SortValue } from '../elastic/client.js';
import { redactUrl } from '../config/env.js';
import { ConfigurationError } from '../errors.js';
import { dailyIndex } from '../elastic/templates.js';
import { buildAlert, type AlertDocument } from './alerts.js';
import { alreadyReported, planWindows } from './grid.js';
import type { Notifier } from './notifiers.js';
import { RULES } from './rules/index.js';
import type { Finding, Rule, Window } from './rules/types.js';

/**
 * Runs the rules over the security events on a fixed grid of windows (docs/architecture.md):
 *
 * - Window ends are multiples of `stepMs` (5 min), each rule looking back its own `windowMs`, so windows
 *   overlap: a burst that straddles one window's edge is whole in the next, and late events are still found.
 *   The newest window ends `delayMs` before now, so documents still in flight are not judged missing.
 * - On demand (`until` now), the open window is judged too, ending at that instant (src/anomaly/grid.ts): its
 *   alerts are real, the checkpoint stays at the closed windows, and the closed window judged later does not
 *   report the same finding again.
 * - The last window end checked is kept in Elasticsearch (`<prefix>-anomaly-state`), so after downtime the
 *   runner catches up, window by window, up to `maxCatchUpMs`.
 * - Alert ids are deterministic (rule, entity, window end; or the triggering event), and alerts are written with
 *   `create`: a re-run or a second runner on the same grid produces 409s, never a duplicate.
 * - Suppression (realert): one alert per rule and entity per `realertMs`, decided from the alerts already in
 *   Elasticsearch plus this run's, in window order, so every runner decides the same way.
 * - Alerts are written first, notified after; a notifier that fails leaves `notified: false` and is retried on
 *   the next run. It never blocks the job, never loses the alert.
 */

export interface AnomalyRunnerOptions {
  client: ElasticClient;
  indexPrefix: string;
  rules?: readonly Rule[];
  /** Per-rule overrides of thresholds and windows, by rule id. */
  params?: Record<string, Record<string, number>>;
  /** Grid step. Default 5 minutes. */
  stepMs?: number;
  /** How far behind now the newest window ends. Default 1 minute. */
  delayMs?: number;
  /** Longest catch-up after downtime. Default 24 hours. */
  maxCatchUpMs?: number;
  /** Default suppression per rule and entity when a rule does not set its own. Default 1 hour. */
  realertMs?: number;
  notifiers?: readonly Notifier[];
  /** Search timeout per request. Default 30 s. */
  requestTimeoutMs?: number;
  now?: () => number;
}

export interface RunOptions {
  /** Evaluate windows ending after this instant, regardless of the stored checkpoint (the CLI's --since). */
  since?: Date;
  /**
   * Evaluate up to this instant instead of the grid point `delayMs` behind now. Later than that grid point (say,
   * now: judge what just happened), it adds the open window ending at this instant; the checkpoint still moves only
   * over closed windows. Never later than now.
   */
  until?: Date;
  /** Do not advance the stored checkpoint (a what-if run). */
  dryRun?: boolean;
}

export interface RunResult {
  /** Window ends after `from`, up to `to`, were judged. */
  from: string;
  /** The newest window end judged: `openWindowEnd` when there was one, otherwise `closedTo`. */
  to: string;
  /** The newest closed window end judged, on the grid: the checkpoint moves here at most. */
  closedTo: string;
  /** The end of the open window judged on demand (`until` later than the newest closed window), or null. */
  openWindowEnd: string | null;
  /** Windows judged, the open one included. */
  windows: number;
  /** Alerts this run created. */
  created: AlertDocument[];
  /** Alerts this run found that already existed (a re-run, or another runner was first). */
  existing: AlertDocument[];
  /** Findings not written because the same rule alerted on the same entity within its realert period. */
  suppressed: number;
  notified: number;
  notifyFailures: number;
  /** Milliseconds spent per rule (query + evaluation). */
  ruleMs: Record<string, number>;
  /**
   * Rules whose search or evaluation failed, each with the first window it failed on and the error's message (it
   * never holds event data). The other rules' alerts are still written; the checkpoint moves only to the last
   * window end every rule judged, so the next run judges the failed rule's windows again (the others' alerts there
   * come back as existing: alert ids are deterministic, nothing is written twice).
   */
  failedRules: Array<{ rule: string; windowEnd: string; message: string }>;
  tookMs: number;
}

const MINUTE = 60_000;
const DEFAULTS = { stepMs: 5 * MINUTE, delayMs: MINUTE, maxCatchUpMs: 24 * 60 * MINUTE, realertMs: 60 * MINUTE, requestTimeoutMs: 30_000 };
const STATE_ID = 'runner';
/** A shard starts within a second; ten tries, 100 ms longer apart each time, wait up to 4.5 s for it. */
const SHARD_START_ATTEMPTS = 10;

const shardStarting = (error: unknown): boolean =>
  isResponseError(error) && (error.body as { error?: { type?: string } } | undefined)?.error?.type === 'no_shard_available_action_exception';

export interface AnomalyRunner {
  run(options?: RunOptions): Promise<RunResult>;
  /** One rule over one window, nothing written: for the benchmark and for tests. */
  evaluate(rule: Rule, window: Window): Promise<Finding[]>;
  /** Alerts in `<prefix>-alerts-*` newer than `since`, newest first. */
  list(since: Date, size?: number): Promise<AlertDocument[]>;
  /** Alerts whose window ends in (`from`, `to`]: every alert of a judged range, whichever run wrote it. Oldest first. */
  between(from: Date, to: Date, size?: number): Promise<AlertDocument[]>;
  readonly rules: readonly Rule[];
}

export function createAnomalyRunner(options: AnomalyRunnerOptions): AnomalyRunner {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof DEFAULTS & AnomalyRunnerOptions;
  const { client, indexPrefix } = o;
  if (!client) throw new ConfigurationError('The client option is required.');
  for (const name of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
    if (!Number.isFinite(o[name]) || o[name] < 0) throw new ConfigurationError(`The ${name} option must be a non-negative number.`);
  }
  if (o.stepMs < 1000) throw new ConfigurationError('The stepMs option must be at least 1000.');
  const rules = o.rules ?? RULES;
  const params = new Map<string, Record<string, number>>();
  for (const rule of rules) {
    const override = o.params?.[rule.id] ?? {};
    for (const key of Object.keys(override)) {
      if (!(key in rule.defaults)) throw new ConfigurationError(`Rule ${rule.id} has no parameter "${key}"; it has ${Object.keys(rule.defaults).join(', ')}.`);
      if (!Number.isFinite(override[key]) || override[key]! < 0) throw new ConfigurationError(`Rule ${rule.id} parameter ${key} must be a non-negative number.`);
    }
    params.set(rule.id, { ...rule.defaults, ...override });
  }
  const now = o.now ?? Date.now;
  const eventsIndex = `${indexPrefix}-events-*`;
  const alertsIndex = `${indexPrefix}-alerts-*`;
  const stateIndex = `${indexPrefix}-anomaly-state`;
  const requestOptions = { requestTimeout: o.requestTimeoutMs, maxRetries: 0 };

  async function msearch(searches: Array<{ index: string; body: Record<string, unknown> }>): Promise<unknown[]> {
    if (searches.length === 0) return [];
    const operations = searches.flatMap((s) => [{ index: s.index, ignore_unavailable: true, allow_no_indices: true }, s.body]);
    const response = await client.msearch({ searches: operations }, requestOptions);
    return response.responses.map((r) => {
      if ('error' in r) throw new Error(`Search failed: ${JSON.stringify(r.error).slice(0, 500)}`);
      return r;
    });
  }

  /** A rule's searches for one window, both rounds when it has a refine step. */
  async function search(rule: Rule, window: Window, p: Record<string, number>): Promise<unknown[]> {
    const context = { eventsIndex };
    const first = await msearch(rule.queries(window, p as never, context));
    return rule.refine ? [...first, ...(await msearch(rule.refine(first, window, p as never, context)))] : first;
  }

  const windowFor = (rule: Rule, end: number): Window => ({ start: new Date(end - (params.get(rule.id)!.windowMs ?? rule.defaults.windowMs)), end: new Date(end) });

  async function readCheckpoint(): Promise<number | undefined> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const doc = await client.get({ index: stateIndex, id: STATE_ID }, requestOptions);
        const value = (doc._source as { last_checked?: string } | undefined)?.last_checked;
        return value ? Date.parse(value) : undefined;
      } catch (error) {
        if (isResponseError(error) && error.statusCode === 404) return undefined;
        // Another runner has just created the state index (its first checkpoint) and the shard is still starting.
        if (attempt < SHARD_START_ATTEMPTS && shardStarting(error)) {
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
          continue;
        }
        throw error;
      }
    }
  }

  async function writeCheckpoint(at: number): Promise<void> {
    const previous = await readCheckpoint();
    // Never move backwards: a --since run or a slower runner must not make others re-scan.
    if (previous !== undefined && previous >= at) return;
    await client.index({ index: stateIndex, id: STATE_ID, document: { last_checked: new Date(at).toISOString(), updated_at: new Date(now()).toISOString() } }, requestOptions);
  }

  /** Every window end alerted per rule and entity since `sinceMs`: the memory of suppression. */
  async function recentAlerts(sinceMs: number): Promise<Map<string, number[]>> {
    const latest = new Map<string, number[]>();
    let after: SortValue[] | undefined;
    for (;;) {
      const response = await client.search({
        index: alertsIndex, ignore_unavailable: true, allow_no_indices: true, size: 1000,
        query: { bool: { filter: [{ term: { 'event.kind': 'alert' } }, { range: { 'sentinel.alert.window_end': { gte: new Date(sinceMs).toISOString() } } }] } },
        sort: [{ '@timestamp': 'asc' }, { 'event.id': 'asc' }],
        _source: ['rule.id', 'sentinel.alert.entity', 'sentinel.alert.entity_type', 'sentinel.alert.window_end'],
        ...(after ? { search_after: after } : {}),
      }, requestOptions);
      for (const hit of response.hits.hits) {
        const s = hit._source as { rule: { id: string }; sentinel: { alert: { entity: string; entity_type: string; window_end: string } } };
        const key = `${s.rule.id}|${s.sentinel.alert.entity_type}|${s.sentinel.alert.entity}`;
        const ends = latest.get(key) ?? [];
        ends.push(Date.parse(s.sentinel.alert.window_end));
        latest.set(key, ends);
      }
      if (response.hits.hits.length < 1000) break;
      after = response.hits.hits.at(-1)!.sort;
    }
    return latest;
  }

  async function writeAlerts(alerts: AlertDocument[]): Promise<{ created: AlertDocument[]; existing: AlertDocument[] }> {
    const created: AlertDocument[] = [];
    const existing: AlertDocument[] = [];
    if (alerts.length === 0) return { created, existing };
    const operations = alerts.flatMap((alert) => [{ create: { _index: dailyIndex(indexPrefix, 'alerts', alert['@timestamp']), _id: alert.event.id } }, alert]);
    const response = await client.bulk({ operations, refresh: 'wait_for' }, requestOptions);
    response.items.forEach((item, i) => {
      const status = item.create?.status ?? 0;
      if (status >= 200 && status < 300) created.push(alerts[i]!);
      else if (status === 409) existing.push(alerts[i]!);
      else throw new Error(`Writing alert ${alerts[i]!.event.id} failed: ${status} ${item.create?.error?.type ?? ''} ${item.create?.error?.reason ?? ''}`);
    });
    return { created, existing };
  }

  async function notify(alerts: AlertDocument[]): Promise<{ notified: number; failures: number }> {
    let notified = 0;
    let failures = 0;
    for (const alert of alerts) {
      let ok = true;
      for (const notifier of o.notifiers ?? []) {
        try {
          await notifier.notify(alert);
        } catch {
          ok = false;
        }
      }
      if (!ok) {
        failures += 1;
        continue;
      }
      try {
        await client.update({
          index: dailyIndex(indexPrefix, 'alerts', alert['@timestamp']), id: alert.event.id,
          doc: { sentinel: { alert: { notified: true, notified_at: new Date(now()).toISOString() } } },
        }, requestOptions);
        notified += 1;
      } catch {
        failures += 1;
      }
    }
    return { notified, failures };
  }

  /** Alerts left unnotified by an earlier run (its notifier failed), old enough that their creator gave up. */
  async function pendingNotifications(): Promise<AlertDocument[]> {
    const response = await client.search({
      index: alertsIndex, ignore_unavailable: true, allow_no_indices: true, size: 100,
      query: { bool: { filter: [{ term: { 'event.kind': 'alert' } }, { term: { 'sentinel.alert.notified': false } }, { range: { 'event.created': { lte: new Date(now() - 60_000).toISOString() } } }] } },
      sort: [{ 'event.created': 'asc' }],
    }, requestOptions);
    return response.hits.hits.map((hit) => hit._source as AlertDocument);
  }

  return {
    rules,

    async evaluate(rule, window) {
      const p = params.get(rule.id) ?? rule.defaults;
      return rule.evaluate(await search(rule, window, p), window, p as never);
    },

    async run(runOptions = {}) {
      const started = Date.now();
      const checkpoint = runOptions.since ? undefined : await readCheckpoint();
      const plan = planWindows({
        now: now(), stepMs: o.stepMs, delayMs: o.delayMs, maxCatchUpMs: o.maxCatchUpMs, checkpoint,
        since: runOptions.since?.getTime(), until: runOptions.until?.getTime(),
      });
      const { from, closedTo, openEnd } = plan;
      const ends: number[] = [];
      for (let end = from + o.stepMs; end <= closedTo; end += o.stepMs) ends.push(end);
      const closedWindows = ends.length;
      if (openEnd !== undefined) ends.push(openEnd);
      const ruleMs: Record<string, number> = Object.fromEntries(rules.map((r) => [r.id, 0]));
      const longestRealert = Math.max(o.realertMs, ...rules.map((r) => r.realertMs ?? 0), o.stepMs);
      const suppression = await recentAlerts(from - longestRealert);
      const candidates: AlertDocument[] = [];
      let suppressed = 0;
      // One failing rule (a search timing out on a big deployment, a field mapped wrongly) must not blind the others.
      const failed = new Map<string, { rule: string; windowEnd: string; message: string; error: unknown }>();
      let judged = 0;
      for (const end of ends) {
        for (const rule of rules) {
          if (failed.has(rule.id)) continue;
          const t = Date.now();
          const window = windowFor(rule, end);
          const p = params.get(rule.id)!;
          let findings: Finding[];
          try {
            findings = rule.evaluate(await search(rule, window, p), window, p as never);
            judged += 1;
          } catch (error) {
            failed.set(rule.id, { rule: rule.id, windowEnd: new Date(end).toISOString(), message: redactUrl((error as Error).message ?? String(error)), error });
            continue;
          } finally {
            ruleMs[rule.id]! += Date.now() - t;
          }
          for (const finding of findings) {
            if (!finding.eventId) {
              const key = `${rule.id}|${finding.entityType}|${finding.entity}`;
              const alerted = suppression.get(key) ?? [];
              const realert = rule.realertMs ?? o.realertMs;
              // An alert at this very window end is emitted again (it comes back 409: "existing"). Any other alert
              // of the same rule and entity that already reports this finding (grid.ts) suppresses it.
              if (!alerted.includes(end) && alerted.some((at) => alreadyReported(at, end, realert, o.stepMs))) {
                suppressed += 1;
                continue;
              }
              if (!alerted.includes(end)) alerted.push(end);
              suppression.set(key, alerted);
            }
            candidates.push(buildAlert(rule, finding, window, new Date(now())));
          }
        }
      }
      // Nothing judged at all (Elasticsearch down, the index pattern refused): the run failed as a whole.
      if (judged === 0 && failed.size > 0) throw [...failed.values()][0]!.error;
      const unique = [...new Map(candidates.map((alert) => [alert.event.id, alert])).values()];
      const { created, existing } = await writeAlerts(unique);
      // Only closed windows move the checkpoint: an open window is judged again once closed. After a rule failed, the
      // checkpoint moves only to the last window end every rule judged: the failed rule starts again from there.
      const failedFrom = Math.min(...[...failed.values()].map((f) => Date.parse(f.windowEnd)));
      const judgedTo = failed.size === 0 ? closedTo : Math.min(closedTo, failedFrom - o.stepMs);
      if (!runOptions.dryRun && closedWindows > 0 && judgedTo > from) await writeCheckpoint(judgedTo);
      // Only the runner that created an alert notifies it now; leftovers of failed notifiers are retried here.
      const retry = (await pendingNotifications()).filter((alert) => !created.some((c) => c.event.id === alert.event.id));
      const { notified, failures } = await notify([...created, ...retry]);
      return {
        from: new Date(from).toISOString(),
        to: new Date(openEnd ?? closedTo).toISOString(),
        closedTo: new Date(closedTo).toISOString(),
        openWindowEnd: openEnd === undefined ? null : new Date(openEnd).toISOString(),
        windows: ends.length,
        created,
        existing,
        suppressed,
        notified,
        notifyFailures: failures,
        ruleMs,
        failedRules: [...failed.values()].map(({ rule, windowEnd, message }) => ({ rule, windowEnd, message })),
        tookMs: Date.now() - started,
      };
    },

    async list(since, size = 100) {
      const response = await client.search({
        index: alertsIndex, ignore_unavailable: true, allow_no_indices: true, size,
        query: { bool: { filter: [{ term: { 'event.kind': 'alert' } }, { range: { '@timestamp': { gte: since.toISOString() } } }] } },
        sort: [{ '@timestamp': 'desc' }, { 'event.id': 'asc' }],
      }, requestOptions);
      return response.hits.hits.map((hit) => hit._source as AlertDocument);
    },

    async between(from, to, size = 500) {
      const response = await client.search({
        index: alertsIndex, ignore_unavailable: true, allow_no_indices: true, size,
        query: { bool: { filter: [{ term: { 'event.kind': 'alert' } }, { range: { 'sentinel.alert.window_end': { gt: from.toISOString(), lte: to.toISOString() } } }] } },
        sort: [{ '@timestamp': 'asc' }, { 'event.id': 'asc' }],
      }, requestOptions);
      return response.hits.hits.map((hit) => hit._source as AlertDocument);
    },
  };
}
