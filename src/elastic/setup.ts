import type { ElasticClient } from './client.js';
import { ElasticsearchError } from '../errors.js';
import { describeElasticError, serverVersion, type ElasticErrorHints } from './client.js';
import { buildTemplates, type TemplateSet } from './templates.js';

export const SUPPORTED_MAJORS = [8, 9];

export interface SetupResult {
  version: string;
  componentTemplates: string[];
  indexTemplates: string[];
  /** Index patterns whose existing indices took the new fields (today's index among them). */
  updatedMappings: string[];
  /**
   * Patterns whose existing indices refused the new mapping (a field whose type changed): they keep the old one
   * until the next daily index, and documents using the changed field are dead-lettered until then.
   */
  staleMappings: Array<{ pattern: string; reason: string }>;
}

type Properties = Record<string, unknown>;

/** Properties merged as Elasticsearch composes them: components in order, then the template's own, objects deeply. */
function mergeProperties(target: Properties, source: Properties | undefined): Properties {
  for (const [name, field] of Object.entries(source ?? {})) {
    const existing = target[name] as { properties?: Properties } | undefined;
    const incoming = field as { properties?: Properties };
    target[name] = existing?.properties && incoming.properties
      ? { ...existing, ...incoming, properties: mergeProperties({ ...existing.properties }, incoming.properties) }
      : field;
  }
  return target;
}

/** The full properties each index template gives its indices. */
export function composedProperties(templates: TemplateSet): Array<{ patterns: string[]; properties: Properties }> {
  const components = new Map(templates.components.map((c) => [c.name, (c.body.template?.mappings as { properties?: Properties } | undefined)?.properties]));
  return templates.indexTemplates.map(({ body }) => {
    const properties: Properties = {};
    for (const name of body.composed_of ?? []) mergeProperties(properties, components.get(name));
    mergeProperties(properties, (body.template?.mappings as { properties?: Properties } | undefined)?.properties);
    return { patterns: [body.index_patterns ?? []].flat(), properties };
  });
}

/**
 * `koa-sentinel setup`: checks the server, installs the component and index templates and adds new fields to the
 * existing daily indices. Every call is a PUT of the whole template or mapping, so running it again converges to
 * the same state. `url` and `hints` only make its errors
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
    // Templates apply to indices created from now on; today's index (and any other day still written to, late
    // events) would refuse new fields under `dynamic: strict` until midnight. New fields are additive, so put them
    // on the existing indices too; a changed type cannot be, and is reported instead of failing the whole setup.
    const updatedMappings: string[] = [];
    const staleMappings: SetupResult['staleMappings'] = [];
    for (const { patterns, properties } of composedProperties(templates)) {
      for (const pattern of patterns) {
        try {
          await client.indices.putMapping({ index: pattern, properties, allow_no_indices: true, ignore_unavailable: true, expand_wildcards: 'open' });
          updatedMappings.push(pattern);
        } catch (error) {
          const status = (error as { meta?: { statusCode?: number } }).meta?.statusCode;
          if (status !== 400) throw error;
          staleMappings.push({ pattern, reason: describeElasticError(error).message });
        }
      }
    }
    return {
      version,
      componentTemplates: templates.components.map((t) => t.name),
      indexTemplates: templates.indexTemplates.map((t) => t.name),
      updatedMappings,
      staleMappings,
    };
  } catch (error) {
    throw describeElasticError(error, url, hints);
  }
}
