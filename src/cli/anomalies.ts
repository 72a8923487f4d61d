/**
 * `koa-sentinel anomalies run|list|review` (docs/anomaly-detection.md#cli). Exit codes: 0 done and no new alert,
 * 1 new alerts (`run`; with `--any-alert`, any alert of the judged range), 2 usage or configuration error,
 * 3 Elasticsearch unreachable or refusing. With `--json`, stdout carries exactly one JSON document whatever happens:
 * the result, or `{"error":{"code","message"}}` with a stable code; stderr stays empty. Without it, results go to
 * stdout and one line per error to stderr.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  alertText, buildDailyReview, ConfigurationError, createAnomalyRunner, createWebhookNotifier, describeElasticError, formatDailyReview, parseDuration,
  renderReviewHtml, storeDailyReview, type AlertDocument, type RunResult,
} from '../index.js';
import { ELASTIC_HINTS, elasticFromEnv } from './elastic.js';
import { CliError, EXIT, printable, type CliIo, type ExitCode } from './io.js';

const USAGE = `Usage: koa-sentinel anomalies run [--since 1h] [--until now|<ISO time>] [--any-alert] [--json]
       koa-sentinel anomalies list [--since 24h] [--json]
       koa-sentinel anomalies review [--day YYYY-MM-DD] [--html FILE] [--json]
`;

const OPTIONS = {
  since: { type: 'string' }, until: { type: 'string' }, 'any-alert': { type: 'boolean' }, json: { type: 'boolean' }, day: { type: 'string' }, html: { type: 'string' },
} as const;
/** The options each action takes; another is a usage error rather than silently ignored. */
const ACCEPTS: Record<string, ReadonlyArray<keyof typeof OPTIONS>> = {
  run: ['since', 'until', 'any-alert', 'json'],
  list: ['since', 'json'],
  review: ['day', 'html', 'json'],
};

interface Failure {
  code: string;
  message: string;
  exit: ExitCode;
}

/** Every error, as a stable code, an operator's sentence and an exit code; never a stack. */
function describeFailure(error: unknown, url: string | undefined): Failure {
  if (error instanceof CliError) return { code: error.code, message: error.message, exit: EXIT.error };
  if (error instanceof ConfigurationError) return { code: error.code, message: error.message, exit: EXIT.error };
  if ((error as { code?: unknown })?.code?.toString().startsWith('ERR_PARSE_ARGS')) return { code: 'usage', message: (error as Error).message, exit: EXIT.error };
  const described = describeElasticError(error, url, ELASTIC_HINTS);
  return { code: described.code, message: described.message, exit: EXIT.unavailable };
}

function parseUntil(value: string): Date {
  if (value === 'now') return new Date();
  const at = /^\d{4}-\d{2}-\d{2}T/.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) throw new CliError('usage', `--until must be "now" or an ISO 8601 time such as 2026-11-20T12:00:00Z (got "${value}").`);
  return at;
}

function runText(result: RunResult, lines: string[], inRange: number | undefined): string {
  const head = `Checked ${result.windows} window(s) from ${result.from} to ${result.to} in ${result.tookMs} ms: ${result.created.length} new, ${result.existing.length} already known, ${result.suppressed} suppressed.\n`;
  const open = result.openWindowEnd
    ? `The last window, ending ${result.openWindowEnd}, was still open: judged on demand with the events indexed so far. The checkpoint stays at ${result.closedTo}; the scheduled run judges that window again once it has closed, without repeating these alerts.\n`
    : '';
  const range = inRange === undefined ? '' : `${inRange} alert(s) in the judged range, whichever run wrote them.\n`;
  const failed = result.failedRules.map((f) => printable(`Rule ${f.rule} failed on the window ending ${f.windowEnd}: ${f.message}`)).join('\n');
  const retry = failed ? `${failed}\nThe other rules' alerts are written; the next run judges the failed rule(s) from there again.\n` : '';
  return `${head}${open}${range}${lines.join('\n')}${lines.length ? '\n' : ''}${retry}`;
}

export async function anomaliesCommand(args: string[], io: CliIo): Promise<number> {
  // Known before parsing, so that even a usage error answers in JSON.
  const json = args.includes('--json');
  let action: string | undefined;
  let url: string | undefined;
  let close: (() => Promise<void>) | undefined;
  const out = (value: unknown, text: string): void => {
    io.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : text);
  };
  try {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: OPTIONS });
    [action] = positionals;
    if (action === undefined || !Object.hasOwn(ACCEPTS, action) || positionals.length !== 1) throw new CliError('usage', USAGE.trimEnd());
    const refused = Object.keys(values).filter((name) => !ACCEPTS[action!]!.includes(name as keyof typeof OPTIONS));
    if (refused.length) throw new CliError('usage', `anomalies ${action} does not take --${refused.join(', --')}.\n${USAGE.trimEnd()}`);
    const since = (fallback: string): Date => {
      const ms = parseDuration(values.since ?? fallback);
      if (ms === undefined || ms <= 0) throw new CliError('usage', `--since must be a duration such as 30m, 1h or 7d (got "${values.since}").`);
      return new Date(Date.now() - ms);
    };
    const until = values.until === undefined ? undefined : parseUntil(values.until);
    const day = values.day === undefined ? new Date() : new Date(`${values.day}T12:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(values.day ?? '2000-01-01') || Number.isNaN(day.getTime())) throw new CliError('usage', `--day must be YYYY-MM-DD (got "${values.day}").`);
    if (values.html === '') throw new CliError('usage', '--html needs a file name.');

    const env = elasticFromEnv(io.env);
    const { client, prefix, config } = env;
    url = env.url;
    close = () => client.close();

    if (action === 'review') {
      const review = await buildDailyReview(client, prefix, day);
      const html = renderReviewHtml(review);
      if (values.html) {
        // Written before the review is stored: a path that cannot be written fails the command with nothing changed.
        await writeFile(values.html, html, { mode: 0o600 }).catch((error: NodeJS.ErrnoException) => {
          throw new CliError('output_failed', `Cannot write ${values.html}: ${error.code ?? error.message}.`, { cause: error });
        });
      }
      await storeDailyReview(client, prefix, review, html);
      out(review, `${formatDailyReview(review)}${values.html ? `\nThe HTML review is in ${values.html}.\n` : ''}`);
      return EXIT.ok;
    }
    if (action === 'list') {
      const alerts = await createAnomalyRunner({ client, indexPrefix: prefix }).list(since('24h'), 500);
      out(alerts, alerts.length ? `${alerts.map((a) => printable(`${a['@timestamp']}  ${alertText(a)}`)).join('\n')}\n` : 'No alerts.\n');
      return EXIT.ok;
    }
    const notifiers = config.alertWebhookUrl ? [createWebhookNotifier({ url: config.alertWebhookUrl })] : [];
    const runner = createAnomalyRunner({ client, indexPrefix: prefix, notifiers });
    const result = await runner.run({ ...(values.since ? { since: since('1h') } : {}), ...(until ? { until } : {}) });
    const found = [...result.created, ...result.existing];
    // --any-alert: every alert whose window ends in the range judged, also those an earlier run wrote and this one
    // found suppressed (an on-demand run's alert, say), not only those this run found again.
    const inRange = values['any-alert'] ? await runner.between(new Date(result.from), new Date(result.to)) : undefined;
    const listed = new Map<string, AlertDocument>(found.map((a) => [a.event.id, a]));
    for (const alert of inRange ?? []) if (!listed.has(alert.event.id)) listed.set(alert.event.id, alert);
    const created = new Set(result.created.map((a) => a.event.id));
    const lines = [...listed.values()].map((a) => printable(`${created.has(a.event.id) ? 'NEW ' : '    '} ${alertText(a)}`));
    out({ ...result, alerts: found, ...(inRange ? { inRange } : {}) }, runText(result, lines, inRange?.length));
    if (result.created.length > 0 || (inRange !== undefined && listed.size > 0)) return EXIT.findings;
    // Nothing to act on, but not everything was judged: as unavailable as a run that judged nothing.
    return result.failedRules.length > 0 ? EXIT.unavailable : EXIT.ok;
  } catch (error) {
    const failure = describeFailure(error, url);
    if (json) io.stdout.write(`${JSON.stringify({ error: { code: failure.code, message: failure.message } }, null, 2)}\n`);
    else io.stderr.write(`koa-sentinel anomalies${action && Object.hasOwn(ACCEPTS, action) ? ` ${action}` : ''}: ${failure.message}\n`);
    return failure.exit;
  } finally {
    await close?.();
  }
}
