import type { ElasticClient } from './client.js';
import { ElasticsearchError } from '../errors.js';
import { describeElasticError, serverVersion, type ElasticErrorHints } from './client.js';
import { buildTemplates } from './templates.js';

export const SUPPORTED_MAJORS = [8, 9];

export interface SetupResult {
  version: string;
  componentTemplates: string[];
  indexTemplates: string[];
}

/**
 * `koa-sentinel setup`: checks the server and installs the component and index templates. Every call is a PUT of
 * the whole template, so running it again converges to the same state. `url` and `hints` only make its errors
 * clearer (see describeElasticError).
 */
export async function setupElasticsearch(client: ElasticClient, prefix: string, url?: string, hints?: ElasticErrorHints): Promise<SetupResult> {
  try {
    const version = await serverVersion(client);
    const major = Number(version.split('.')[0]);
    if (!SUPPORTED_MAJORS.includes(major)) {
      throw new ElasticsearchError('es_version', `Elasticsearch ${version} is not supported; use ${SUPPORTED_MAJORS.map((m) => `${m}.x`).join(' or ')}.`);
    }
    const templates = buildTemplates(prefix);
    for (const { name, body } of templates.components) await client.cluster.putComponentTemplate({ name, ...body });
    for (const { name, body } of templates.indexTemplates) await client.indices.putIndexTemplate({ name, ...body });
    return {
      version,
      componentTemplates: templates.components.map((t) => t.name),
      indexTemplates: templates.indexTemplates.map((t) => t.name),
    };
  } catch (error) {
    throw describeElasticError(error, url, hints);
  }
}
