import { ConfigurationError, createElasticClient, loadConfig, type Config } from '../index.js';

export interface ElasticFromEnv {
  client: ReturnType<typeof createElasticClient>;
  prefix: string;
  url: string;
  config: Config;
}

/** What describeElasticError adds to a 401 or a connection failure: the CLI read these variables, so it names them. */
export const ELASTIC_HINTS = {
  credentials: 'check ELASTICSEARCH_API_KEY, or ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD.',
  unreachable: 'Is it running, and is ELASTICSEARCH_URL right?',
};

/** The configuration and an Elasticsearch client for the commands that need one (setup, anomalies). */
export function elasticFromEnv(env: NodeJS.ProcessEnv): ElasticFromEnv {
  const config = loadConfig(env);
  const es = config.elasticsearch;
  if (!es.url) throw new ConfigurationError('ELASTICSEARCH_URL is required.');
  const client = createElasticClient({ url: es.urls.length > 1 ? es.urls : es.urls[0]!, apiKey: es.apiKey, username: es.username, password: es.password, caCertFile: es.caCertFile });
  return { client, prefix: es.indexPrefix, url: es.url, config };
}
