import { ElasticsearchError, redactUrl, setupElasticsearch } from '../index.js';
import { ELASTIC_HINTS, elasticFromEnv } from './elastic.js';
import { EXIT, type CliIo } from './io.js';

/** `koa-sentinel setup`: installs the index templates; safe to run again. */
export async function setupCommand(_args: string[], io: CliIo): Promise<number> {
  const { client, prefix, url } = elasticFromEnv(io.env);
  try {
    const result = await setupElasticsearch(client, prefix, url, ELASTIC_HINTS);
    io.stdout.write(`Elasticsearch ${result.version} at ${redactUrl(url)}: installed component templates ${result.componentTemplates.join(', ')} and index templates ${result.indexTemplates.join(', ')}.\n`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof ElasticsearchError)) throw error;
    io.stderr.write(`koa-sentinel setup: ${error.message} [${error.code}]\n`);
    return EXIT.findings;
  } finally {
    await client.close();
  }
}
