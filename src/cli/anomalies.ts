import { parseArgs } from 'node:util';
import {
  alertText, buildDailyReview, ConfigurationError, createAnomalyRunner, createWebhookNotifier, describeElasticError, formatDailyReview, parseDuration, storeDailyReview,
} from '../index.js';
import { ELASTIC_HINTS, elasticFromEnv } from './elastic.js';
import { EXIT, type CliIo } from './io.js';

const USAGE = 'Usage: koa-sentinel anomalies run|list|review [--since 1h] [--day YYYY-MM-DD] [--json]\n';

/** `koa-sentinel anomalies run|list|review`. `run` exits 1 when there are alerts, so a cron job can page on it. */
export async function anomaliesCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { since: { type: 'string' }, json: { type: 'boolean' }, day: { type: 'string' } } });
  const [action] = positionals;
  if (!['run', 'list', 'review'].includes(action ?? '') || positionals.length !== 1) {
    io.stderr.write(USAGE);
    return EXIT.error;
  }
  const since = (fallback: string): Date => {
    const ms = parseDuration(values.since ?? fallback);
    if (ms === undefined || ms <= 0) throw new ConfigurationError(`--since must be a duration such as 30m, 1h or 7d (got "${values.since}").`);
    return new Date(Date.now() - ms);
  };
  const { client, prefix, url, config } = elasticFromEnv(io.env);
  const out = (value: unknown, text: string): void => {
    io.stdout.write(values.json ? `${JSON.stringify(value, null, 2)}\n` : text);
  };
  try {
    if (action === 'review') {
      const day = values.day ? new Date(`${values.day}T12:00:00Z`) : new Date();
      if (Number.isNaN(day.getTime())) throw new ConfigurationError(`--day must be YYYY-MM-DD (got "${values.day}").`);
      const review = await buildDailyReview(client, prefix, day);
      await storeDailyReview(client, prefix, review);
      out(review, formatDailyReview(review));
      return EXIT.ok;
    }
    if (action === 'list') {
      const alerts = await createAnomalyRunner({ client, indexPrefix: prefix }).list(since('24h'), 500);
      out(alerts, alerts.length ? `${alerts.map((a) => `${a['@timestamp']}  ${alertText(a)}`).join('\n')}\n` : 'No alerts.\n');
      return EXIT.ok;
    }
    const notifiers = config.alertWebhookUrl ? [createWebhookNotifier({ url: config.alertWebhookUrl })] : [];
    const runner = createAnomalyRunner({ client, indexPrefix: prefix, notifiers });
    const result = await runner.run(values.since ? { since: since('1h') } : {});
    const found = [...result.created, ...result.existing];
    const lines = found.map((a) => `${result.created.includes(a) ? 'NEW ' : '    '} ${alertText(a)}`);
    out(
      { ...result, alerts: found },
      `Checked ${result.windows} window(s) from ${result.from} to ${result.to} in ${result.tookMs} ms: ${result.created.length} new, ${result.existing.length} already known, ${result.suppressed} suppressed.\n${lines.join('\n')}${lines.length ? '\n' : ''}`,
    );
    return found.length > 0 ? EXIT.findings : EXIT.ok;
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    io.stderr.write(`koa-sentinel anomalies ${action}: ${describeElasticError(error, url, ELASTIC_HINTS).message}\n`);
    return EXIT.error;
  } finally {
    await client.close();
  }
}
