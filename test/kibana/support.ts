/**
 * What the Kibana tests share: the shipped file, the field types our index templates give each data view, and a
 * translation of a Lens layer into the aggregation Kibana would send, so the real Elasticsearch runs it.
 */
import { readFileSync } from 'node:fs';
import { buildTemplates, type IndexFamily } from '../../src/elastic/templates.js';
import { parseNdjson, SHIPPED_FILE } from '../../src/kibana/saved-objects.js';
import { translateKql, type Query } from './kql.js';

export type SavedObjectLine = ReturnType<typeof parseNdjson>[number] & {
  attributes: Record<string, unknown>;
  references: Array<{ name: string; type: string; id: string }>;
};

export function shippedText(): string {
  return readFileSync(SHIPPED_FILE, 'utf8');
}

export function shippedObjects(): SavedObjectLine[] {
  return parseNdjson(shippedText(), SHIPPED_FILE) as SavedObjectLine[];
}

export function byId(objects: SavedObjectLine[], id: string): SavedObjectLine {
  const found = objects.find((o) => o.id === id);
  if (!found) throw new Error(`no object ${id}`);
  return found;
}

// ------------------------------------------------------------------------------------------------------ mappings

export interface FieldInfo {
  type: string;
  /** Searchable (not `index: false`). */
  indexed: boolean;
  /** Aggregatable and sortable (doc values on). */
  aggregatable: boolean;
}

type Props = Record<string, Record<string, unknown>>;

function mergeProperties(target: Props, source: Props): void {
  for (const [name, def] of Object.entries(source)) {
    const existing = target[name];
    if (existing?.properties && def.properties) {
      const merged = { ...(existing.properties as Props) };
      mergeProperties(merged, def.properties as Props);
      target[name] = { ...existing, ...def, properties: merged };
    } else {
      target[name] = def;
    }
  }
}

function flatten(properties: Props, prefix: string, out: Map<string, FieldInfo>): void {
  for (const [name, def] of Object.entries(properties)) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (def.properties) {
      flatten(def.properties as Props, path, out);
    } else if (typeof def.type === 'string' && def.type !== 'object') {
      out.set(path, { type: def.type, indexed: def.index !== false, aggregatable: def.doc_values !== false && def.type !== 'text' });
    }
  }
}

/** Field → type for the indices of a family, as the composed index template maps them. */
export function templateFields(family: IndexFamily): Map<string, FieldInfo> {
  const templates = buildTemplates('sentinel');
  const template = templates.indexTemplates.find((t) => t.name === `sentinel-${family}`);
  if (!template) throw new Error(`no index template for ${family}`);
  const body = template.body as { composed_of?: string[]; template?: { mappings?: { properties?: Props } } };
  const properties: Props = {};
  for (const name of body.composed_of ?? []) {
    const component = templates.components.find((c) => c.name === name)!;
    mergeProperties(properties, ((component.body.template as { mappings?: { properties?: Props } }).mappings?.properties ?? {}));
  }
  mergeProperties(properties, body.template?.mappings?.properties ?? {});
  const out = new Map<string, FieldInfo>();
  flatten(properties, '', out);
  return out;
}

/** The family a data view covers, from its title `sentinel-<family>-*`. */
export function familyOf(view: SavedObjectLine): IndexFamily {
  const match = /^sentinel-(events|access|alerts|deadletter)-\*$/.exec(String(view.attributes.title));
  if (!match) throw new Error(`data view ${view.id} has title ${String(view.attributes.title)}, not sentinel-<family>-*`);
  return match[1] as IndexFamily;
}

/** The data view an object reads, by reference name. */
export function viewOf(objects: SavedObjectLine[], object: SavedObjectLine, referenceName: string): SavedObjectLine {
  const reference = object.references.find((r) => r.name === referenceName);
  if (!reference) throw new Error(`${object.id} has no reference ${referenceName}`);
  return byId(objects, reference.id);
}

// ---------------------------------------------------------------------------------------------------------- Lens

export interface LensColumn {
  label: string;
  dataType: string;
  operationType: string;
  sourceField?: string;
  isBucketed: boolean;
  params?: { size?: number; interval?: string; orderBy?: { type: string; columnId?: string }; orderDirection?: 'asc' | 'desc'; missingBucket?: boolean };
}

export interface LensLayer {
  columnOrder: string[];
  columns: Record<string, LensColumn>;
}

export interface LensState {
  datasourceStates: { formBased: { layers: Record<string, LensLayer> } };
  visualization: Record<string, unknown>;
  query: { query: string; language: string };
  filters: Array<{ meta?: { key?: string; indexRefName?: string; disabled?: boolean; negate?: boolean }; query?: Query }>;
}

export function lensState(object: SavedObjectLine): LensState {
  return object.attributes.state as LensState;
}

/** Search source of a saved search. */
export interface SearchSource {
  query: { query: string; language: string };
  filter: Array<{ meta?: { key?: string; indexRefName?: string; disabled?: boolean; negate?: boolean }; query?: Query }>;
  indexRefName?: string;
}

export function searchSource(object: SavedObjectLine): SearchSource {
  return JSON.parse((object.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON) as SearchSource;
}

/** A KQL query plus enabled filters, as Kibana combines them. */
export function toEsQuery(query: { query: string; language: string }, filters: SearchSource['filter'], extra: Query[] = []): Query {
  if (query.language !== 'kuery') throw new Error(`unsupported query language ${query.language}`);
  const clauses: Query[] = [translateKql(query.query).query, ...extra];
  const mustNot: Query[] = [];
  for (const f of filters) {
    if (f.meta?.disabled || !f.query) continue;
    (f.meta?.negate ? mustNot : clauses).push(f.query);
  }
  return { bool: { filter: clauses, must_not: mustNot } };
}

/** The row key of documents without the field, in a terms column with missingBucket. */
export const MISSING_VALUE = '(missing value)';

const METRIC_AGGS: Record<string, string> = { unique_count: 'cardinality', sum: 'sum', average: 'avg', min: 'min', max: 'max' };

/**
 * The aggregation tree of a Lens layer: bucket columns nested in columnOrder, every metric at every level (so a
 * terms column can order by any metric), `auto` date histograms at one hour.
 */
export function lensAggregations(layer: LensLayer): Record<string, unknown> {
  const buckets = layer.columnOrder.filter((id) => layer.columns[id]!.isBucketed);
  const metrics = layer.columnOrder.filter((id) => !layer.columns[id]!.isBucketed);
  const metricAggs: Record<string, unknown> = {};
  for (const id of metrics) {
    const c = layer.columns[id]!;
    if (c.operationType === 'count') continue;
    const agg = METRIC_AGGS[c.operationType];
    if (!agg) throw new Error(`no translation for Lens operation ${c.operationType}`);
    metricAggs[id] = { [agg]: { field: c.sourceField } };
  }
  let aggs: Record<string, unknown> = metricAggs;
  for (const id of [...buckets].reverse()) {
    const c = layer.columns[id]!;
    let agg: Record<string, unknown>;
    if (c.operationType === 'date_histogram') {
      const interval = c.params?.interval && c.params.interval !== 'auto' ? c.params.interval : '1h';
      agg = { date_histogram: { field: c.sourceField, fixed_interval: interval, min_doc_count: 1 } };
    } else if (c.operationType === 'terms') {
      const by = c.params?.orderBy?.type === 'column' ? c.params.orderBy.columnId! : '_key';
      const key = by === '_key' ? '_key' : layer.columns[by]!.operationType === 'count' ? '_count' : by;
      // missingBucket: Kibana sends a `missing` key, so documents without the field make a row of their own.
      const missing = c.params?.missingBucket ? { missing: MISSING_VALUE } : {};
      agg = { terms: { field: c.sourceField, size: c.params?.size ?? 3, order: { [key]: c.params?.orderDirection ?? 'desc' }, ...missing } };
    } else {
      throw new Error(`no translation for Lens bucket operation ${c.operationType}`);
    }
    aggs = { [id]: { ...agg, aggs: { ...metricAggs, ...aggs } } };
  }
  return aggs;
}

export type Row = Record<string, string | number>;

/** Flattens the answer to Lens's table: one row per innermost bucket, with the bucket keys and the metrics. */
export function lensRows(layer: LensLayer, aggregations: Record<string, unknown>): Row[] {
  const buckets = layer.columnOrder.filter((id) => layer.columns[id]!.isBucketed);
  const metrics = layer.columnOrder.filter((id) => !layer.columns[id]!.isBucketed);
  const rows: Row[] = [];
  const walk = (level: number, node: Record<string, unknown>, row: Row): void => {
    if (level === buckets.length) {
      const out: Row = { ...row };
      for (const id of metrics) {
        out[id] = layer.columns[id]!.operationType === 'count' ? (node.doc_count as number) : ((node[id] as { value: number }).value);
      }
      rows.push(out);
      return;
    }
    const id = buckets[level]!;
    for (const bucket of (node[id] as { buckets: Array<Record<string, unknown>> }).buckets) {
      const key = (bucket.key_as_string as string | undefined) ?? (bucket.key as string | number);
      walk(level + 1, bucket, { ...row, [id]: key });
    }
  };
  walk(0, aggregations, {});
  return rows;
}
