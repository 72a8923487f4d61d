import { ConfigurationError } from '../errors.js';
import { DEFAULTS, INDEX_PREFIX, redactUrl } from './env.js';
import { envValue } from './env-value.js';

/**
 * The environment of `koa-sentinel kibana import|export`: KIBANA_URL, KIBANA_API_KEY, KIBANA_USERNAME with
 * KIBANA_PASSWORD, KIBANA_SPACE, KIBANA_CA_CERT and ES_INDEX_PREFIX. A setup container passes credentials this
 * way rather than on a command line, where any process list shows them. Flags given to the command replace
 * these; the command itself never reads the environment.
 */

export interface KibanaEnv {
  url: string | undefined;
  apiKey: string | undefined;
  /** Set only together with `password`. */
  username: string | undefined;
  password: string | undefined;
  space: string | undefined;
  caCertFile: string | undefined;
  indexPrefix: string;
}

/** Kibana's rule for a space id. */
const SPACE_ID = /^[a-z0-9_-]+$/;

export function loadKibanaEnv(env: NodeJS.ProcessEnv = process.env): KibanaEnv {
  const problems: string[] = [];
  const get = (name: string): string | undefined => envValue(env, name);

  const url = get('KIBANA_URL');
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      // reported below
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) problems.push(`KIBANA_URL must be an http or https URL (got "${redactUrl(url)}")`);
    else if (parsed.username || parsed.password) problems.push('KIBANA_URL must not hold credentials: set KIBANA_API_KEY, or KIBANA_USERNAME and KIBANA_PASSWORD');
  }

  // A password counts only with its user: Elastic's own compose files set KIBANA_PASSWORD alone, for the
  // kibana_system user, which is not who imports.
  const basic = get('KIBANA_USERNAME') !== undefined && get('KIBANA_PASSWORD') !== undefined;
  const apiKey = get('KIBANA_API_KEY');
  if (apiKey !== undefined && basic) problems.push('set KIBANA_API_KEY or KIBANA_USERNAME and KIBANA_PASSWORD, not both');

  const space = get('KIBANA_SPACE');
  if (space !== undefined && !SPACE_ID.test(space)) problems.push(`KIBANA_SPACE must be a space id: lowercase letters, digits, _ and - (got "${space}")`);

  const indexPrefix = get('ES_INDEX_PREFIX') ?? DEFAULTS.ES_INDEX_PREFIX;
  if (!INDEX_PREFIX.test(indexPrefix)) problems.push(`ES_INDEX_PREFIX must be lowercase letters, digits, - or _ (got "${indexPrefix}")`);

  if (problems.length > 0) throw new ConfigurationError(problems);
  return {
    url,
    apiKey,
    username: basic ? get('KIBANA_USERNAME') : undefined,
    password: basic ? get('KIBANA_PASSWORD') : undefined,
    space,
    caCertFile: get('KIBANA_CA_CERT'),
    indexPrefix,
  };
}
