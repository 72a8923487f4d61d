import { ConfigurationError } from '../errors.js';
import type { AlertDocument } from './alerts.js';

/**
 * Where alerts are announced. A notifier throws when it could not deliver; the runner then leaves the alert
 * `notified: false` and tries again on its next run. The alert itself is already safe in Elasticsearch.
 */
export interface Notifier {
  name: string;
  notify(alert: AlertDocument): Promise<void>;
}

/** The most precise ATT&CK id of an alert: the sub-technique (T1110.003) when there is one, else the technique. */
export function techniqueOf(alert: AlertDocument): string {
  return alert.threat.technique.subtechnique?.id ?? alert.threat.technique.id;
}

export function alertText(alert: AlertDocument): string {
  const a = alert.sentinel.alert;
  return `[${String(a.severity).toUpperCase()}] ${alert.rule.name} (${techniqueOf(alert)}): ${alert.message.slice(alert.rule.name.length + 2)}`;
}

/** Writes each alert through `log` (the bunyan logger's warn/error). */
export function createLogNotifier(log: (level: 'warn' | 'error', fields: Record<string, unknown>, message: string) => void): Notifier {
  return {
    name: 'log',
    async notify(alert) {
      log(alert.log.level, { event: { kind: 'alert', id: alert.event.id, action: alert.event.action, dataset: 'sentinel.alert' }, rule: alert.rule }, alertText(alert));
    },
  };
}

export interface WebhookOptions {
  url: string;
  /** Attempts per alert. Default 3. */
  attempts?: number;
  /** Per attempt. Default 5 s. */
  timeoutMs?: number;
  /** First retry delay, doubled each time. Default 500 ms. */
  retryDelayMs?: number;
}

/**
 * POSTs JSON with a Slack-compatible `text` plus the alert's essentials. 2xx is success; 429, 5xx and network
 * errors are retried with backoff; other 4xx fail at once (retrying a rejected payload does not help).
 */
export function createWebhookNotifier(options: WebhookOptions): Notifier {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new ConfigurationError('options.url must be an http(s) URL.');
  }
  if (!['http:', 'https:'].includes(url.protocol)) throw new ConfigurationError('options.url must be an http(s) URL.');
  const attempts = options.attempts ?? 3;
  const timeoutMs = options.timeoutMs ?? 5000;
  const retryDelayMs = options.retryDelayMs ?? 500;
  return {
    name: 'webhook',
    async notify(alert) {
      const a = alert.sentinel.alert;
      const body = JSON.stringify({
        text: alertText(alert),
        alert: {
          id: alert.event.id, rule: alert.rule.id, name: alert.rule.name, severity: a.severity, technique: techniqueOf(alert),
          entity: a.entity, entity_type: a.entity_type, count: a.count, window_start: a.window_start, window_end: a.window_end,
          first_seen: a.first_seen, last_seen: a.last_seen, message: alert.message,
        },
      });
      let lastError = '';
      for (let attempt = 1; attempt <= attempts; attempt += 1) {
        try {
          const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
          await response.arrayBuffer().catch(() => undefined);
          if (response.ok) return;
          lastError = `HTTP ${response.status}`;
          if (response.status < 500 && response.status !== 429) break;
        } catch (error) {
          lastError = (error as Error).message;
        }
        if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, retryDelayMs * 2 ** (attempt - 1)));
      }
      throw new Error(`Webhook ${url.host} failed: ${lastError}`);
    },
  };
}
