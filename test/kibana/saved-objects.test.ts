/**
 * kibana/koa-sentinel.ndjson, checked without a Kibana: the file's form, its references, and every field it names
 * against our index templates. What its queries return is checked against Elasticsearch in queries.test.ts.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import { TAMPERING_REASONS } from '../../src/anomaly/rules/sessions.js';
import { EVENT_CATALOGUE } from '../../src/events/catalogue.js';
import { buildSavedObjects, CORE_MIGRATION_VERSION, DEFAULT_INDEX_PREFIX, IDS, parseNdjson, rewriteIndexPrefix, toNdjson, TYPE_MIGRATION_VERSION } from '../../src/kibana/saved-objects.js';
import { translateKql } from './kql.js';
import { byId, familyOf, lensState, searchSource, shippedObjects, shippedText, templateFields, viewOf, type FieldInfo, type LensColumn, type SavedObjectLine } from './support.js';

const objects = shippedObjects();
const ofType = (type: string): SavedObjectLine[] => objects.filter((o) => o.type === type);
const fieldsOfView = (view: SavedObjectLine): Map<string, FieldInfo> => templateFields(familyOf(view));

/** Kibana's dashboard attribute schema (v1, `unknowns: 'forbid'`): nothing else may appear. */
const DASHBOARD_ATTRIBUTES = ['title', 'description', 'kibanaSavedObjectMeta', 'timeRestore', 'timeFrom', 'timeTo', 'refreshInterval', 'controlGroupInput', 'panelsJSON', 'optionsJSON', 'hits', 'version'];
const GRID_COLUMNS = 48;

/** Field types each Lens operation can run on (Kibana's Lens operation definitions, core types only). */
const OPERATION_TYPES: Record<string, readonly string[]> = {
  date_histogram: ['date'],
  terms: ['keyword', 'ip', 'long', 'float', 'boolean'],
  unique_count: ['keyword', 'ip', 'long', 'float', 'date', 'boolean'],
  sum: ['long', 'float'],
  average: ['long', 'float'],
  median: ['long', 'float'],
  min: ['long', 'float', 'date'],
  max: ['long', 'float', 'date'],
  last_value: ['keyword', 'ip', 'long', 'float', 'date', 'boolean'],
};
/** The Lens dataType of a column over a field of each type. */
const DATA_TYPE: Record<string, string> = { keyword: 'string', ip: 'ip', long: 'number', float: 'number', date: 'date', boolean: 'boolean' };

/** Values a KQL term may take, for the fields whose vocabulary we own. */
const ALL_REASONS = new Set<string>(Object.values(EVENT_CATALOGUE).flatMap((e) => ('reasons' in e ? [...e.reasons] : [])));
const VOCABULARY: Record<string, (value: string) => boolean> = {
  'event.action': (v) => Object.hasOwn(EVENT_CATALOGUE, v),
  'event.reason': (v) => ALL_REASONS.has(v),
  'event.kind': (v) => ['event', 'alert', 'metric'].includes(v),
  'event.outcome': (v) => ['success', 'failure', 'unknown'].includes(v),
};

function valueFits(field: string, info: FieldInfo, value: string): boolean {
  if (info.type === 'ip') return isIP(value) !== 0;
  if (info.type === 'long') return /^-?\d+$/.test(value);
  if (info.type === 'float') return Number.isFinite(Number(value));
  if (info.type === 'boolean') return value === 'true' || value === 'false';
  if (info.type === 'date') return !Number.isNaN(Date.parse(value));
  return VOCABULARY[field]?.(value) ?? true;
}

/** Every field a KQL query names exists, is searchable, and the value fits its type and vocabulary. */
function checkKql(where: string, kql: string, fields: Map<string, FieldInfo>): void {
  const { terms } = translateKql(kql);
  for (const { field, value } of terms) {
    const info = fields.get(field);
    assert.ok(info, `${where}: query field ${field} is not in the index template`);
    assert.ok(info.indexed, `${where}: query field ${field} is not indexed`);
    assert.ok(valueFits(field, info, value), `${where}: "${value}" does not fit ${field} (${info.type})`);
  }
}

function checkFilters(where: string, filters: Array<{ meta?: { key?: string } }>, fields: Map<string, FieldInfo>): void {
  for (const filter of filters) {
    const key = filter.meta?.key;
    if (key === undefined || key === 'query') continue;
    assert.ok(fields.get(key)?.indexed, `${where}: filter field ${key} is not an indexed field of the template`);
  }
}

describe('kibana/koa-sentinel.ndjson: the file', () => {
  it('is one JSON object per line, ending in a newline, nothing pretty-printed', () => {
    const text = shippedText();
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    assert.equal(lines.length, objects.length);
    for (const [i, line] of lines.entries()) {
      const value = JSON.parse(line) as unknown;
      assert.equal(typeof value, 'object', `line ${i + 1}`);
      assert.equal(JSON.stringify(value), line, `line ${i + 1} is compact JSON`);
    }
  });

  it('is exactly what buildSavedObjects() produces (regenerate it with `koa-sentinel kibana export > kibana/koa-sentinel.ndjson` after a change)', () => {
    assert.equal(shippedText(), toNdjson(buildSavedObjects()));
  });

  it('has unique ids, every object complete and versioned so 8.9 takes it as current and 9.x migrates it', () => {
    assert.equal(new Set(objects.map((o) => o.id)).size, objects.length, 'ids are unique');
    for (const o of objects) {
      assert.match(o.id, /^koa-sentinel-[a-z0-9-]+$/, `${o.id}: a stable, readable id`);
      assert.deepEqual(Object.keys(o).sort(), ['attributes', 'coreMigrationVersion', 'id', 'references', 'type', 'typeMigrationVersion'], o.id);
      assert.ok(o.type in TYPE_MIGRATION_VERSION, `${o.id}: type ${o.type}`);
      assert.equal(o.coreMigrationVersion, CORE_MIGRATION_VERSION, o.id);
      assert.equal(o.typeMigrationVersion, TYPE_MIGRATION_VERSION[o.type as keyof typeof TYPE_MIGRATION_VERSION], o.id);
      assert.equal(typeof o.attributes.title, 'string', `${o.id}: title`);
      assert.ok(Array.isArray(o.references), `${o.id}: references`);
    }
  });

  it('holds what issue 5 asks for: three data views, five searches, the Lens charts and two dashboards', () => {
    assert.deepEqual(ofType('index-pattern').map((o) => [o.attributes.title, o.attributes.timeFieldName]), [
      ['sentinel-events-*', '@timestamp'], ['sentinel-access-*', '@timestamp'], ['sentinel-alerts-*', '@timestamp'],
    ]);
    assert.deepEqual(ofType('search').map((o) => o.id), [IDS.failedLogins, IDS.tokenAbuse, IDS.authzFailures, IDS.csrfRefusals, IDS.alerts]);
    for (const id of [IDS.authOutcomes, IDS.topFailingSources, IDS.targetedUsers, IDS.alertsByRule, IDS.responseCodes, IDS.loginHistory]) assert.equal(byId(objects, id).type, 'lens');
    assert.deepEqual(ofType('dashboard').map((o) => o.attributes.title), ['[koa-sentinel] Authentication security', '[koa-sentinel] Alerts']);
  });
});

/**
 * Whether an object's attributes use the reference named `name`, the way Kibana resolves it on import: a saved
 * search's indexRefName, a Lens layer (`indexpattern-datasource-layer-<layer id>`), a dashboard panel
 * (`<panelIndex>:panel_<panelIndex>`, the panel's panelRefName) or a dashboard control (`controlGroup_<id>:...`).
 */
function referenceUsed(o: SavedObjectLine, name: string): boolean {
  const attributes = o.attributes as Record<string, unknown>;
  if (o.type === 'search') return (searchSource(o) as { indexRefName?: string }).indexRefName === name;
  if (o.type === 'lens') {
    const layer = /^indexpattern-datasource-layer-(.+)$/.exec(name)?.[1];
    const states = (attributes.state as { datasourceStates?: Record<string, { layers?: Record<string, unknown> }> }).datasourceStates ?? {};
    return layer !== undefined && Object.values(states).some((state) => Object.hasOwn(state.layers ?? {}, layer));
  }
  if (o.type === 'dashboard') {
    const control = /^controlGroup_(.+):/.exec(name)?.[1];
    if (control !== undefined) {
      const controls = JSON.parse((attributes.controlGroupInput as { panelsJSON: string }).panelsJSON) as Record<string, unknown>;
      return Object.hasOwn(controls, control);
    }
    const panels = JSON.parse(attributes.panelsJSON as string) as Array<{ panelIndex: string; panelRefName?: string }>;
    return panels.some((panel) => name === `${panel.panelIndex}:${panel.panelRefName}`);
  }
  return false;
}

describe('kibana/koa-sentinel.ndjson: where from and on what (issue 11)', () => {
  it('the authentication dashboard shows logins by country, failed logins by network and devices per user', () => {
    const dashboard = byId(objects, IDS.authDashboard);
    for (const id of [IDS.loginsByCountry, IDS.loginsByNetwork, IDS.devicesPerUser]) assert.ok(dashboard.references.some((r) => r.id === id && r.type === 'lens'), id);
    const fieldsOf = (id: string): Array<string | undefined> => Object.values(Object.values(lensState(byId(objects, id)).datasourceStates.formBased.layers)[0]!.columns).map((c) => c.sourceField);
    assert.ok(fieldsOf(IDS.loginsByCountry).includes('source.geo.country_iso_code'));
    assert.ok(fieldsOf(IDS.loginsByNetwork).includes('source.as.organization.name'));
    assert.deepEqual(fieldsOf(IDS.devicesPerUser).slice(0, 4), ['user.name', 'user_agent.name', 'user_agent.os.name', 'user_agent.device.name']);
  });

  it('panels that show geolocation results credit DB-IP, as its CC BY 4.0 licence asks', () => {
    for (const id of [IDS.loginsByCountry, IDS.loginsByNetwork]) assert.match(String(byId(objects, id).attributes.description), /IP Geolocation by DB-IP \(https:\/\/db-ip\.com\), CC BY 4\.0/, id);
  });
});

describe('kibana/koa-sentinel.ndjson: references', () => {
  it('every reference resolves to an object of the right type in the file, and every one is used', () => {
    let checked = 0;
    for (const o of objects) {
      const names = o.references.map((r) => r.name);
      assert.equal(new Set(names).size, names.length, `${o.id}: reference names are unique`);
      for (const r of o.references) {
        const target = objects.find((t) => t.id === r.id);
        assert.ok(target, `${o.id}: reference ${r.name} -> ${r.type} ${r.id} is not in the file`);
        assert.equal(target.type, r.type, `${o.id}: reference ${r.name} has type ${r.type}, the object is a ${target.type}`);
        assert.ok(referenceUsed(o, r.name), `${o.id}: reference ${r.name} is not used by its object's attributes`);
        checked += 1;
      }
    }
    assert.ok(checked > 0);
  });

  it('every data view, saved search and visualization is used by some other object', () => {
    const referenced = new Set(objects.flatMap((o) => o.references.map((r) => r.id)));
    const unused = objects.filter((o) => o.type !== 'dashboard' && !referenced.has(o.id)).map((o) => `${o.type} ${o.id}`);
    assert.deepEqual(unused, []);
  });

  it('never names another object\'s id inside attributes: only references[] are remapped on import', () => {
    for (const o of objects) {
      const text = JSON.stringify(o.attributes);
      for (const other of objects) assert.ok(other.id === o.id || !text.includes(other.id), `${o.id} names ${other.id} inline`);
      assert.ok(!/savedObjectId|"indexPatternId"/.test(text), `${o.id} holds an inline object id field`);
    }
  });

  it('saved searches: searchSourceJSON names its data view by indexRefName, reference kibanaSavedObjectMeta.searchSourceJSON.index', () => {
    for (const o of ofType('search')) {
      const source = searchSource(o);
      assert.equal(source.indexRefName, 'kibanaSavedObjectMeta.searchSourceJSON.index', o.id);
      assert.deepEqual(o.references.map((r) => [r.name, r.type]), [['kibanaSavedObjectMeta.searchSourceJSON.index', 'index-pattern']], o.id);
      assert.equal(source.query.language, 'kuery', o.id);
      for (const f of source.filter) if (f.meta?.indexRefName) assert.ok(o.references.some((r) => r.name === f.meta!.indexRefName), `${o.id}: filter reference`);
    }
  });

  it('Lens: one reference indexpattern-datasource-layer-<layerId> per layer, filters by indexRefName', () => {
    for (const o of ofType('lens')) {
      const state = lensState(o);
      const layers = Object.keys(state.datasourceStates.formBased.layers);
      assert.ok(layers.length > 0, o.id);
      for (const layer of layers) assert.ok(o.references.some((r) => r.name === `indexpattern-datasource-layer-${layer}` && r.type === 'index-pattern'), `${o.id}: layer ${layer}`);
      for (const f of state.filters) if (f.meta?.indexRefName) assert.ok(o.references.some((r) => r.name === f.meta!.indexRefName), `${o.id}: filter reference`);
      for (const r of o.references) {
        assert.ok(r.name.startsWith('indexpattern-datasource-layer-') || state.filters.some((f) => f.meta?.indexRefName === r.name), `${o.id}: unused reference ${r.name}`);
      }
    }
  });

  it('dashboards: panels as both 8.x and 9.x read them, references <panelIndex>:panel_<panelIndex>, controls by controlGroup_<id>:', () => {
    for (const d of ofType('dashboard')) {
      for (const key of Object.keys(d.attributes)) assert.ok(DASHBOARD_ATTRIBUTES.includes(key), `${d.id}: unknown dashboard attribute ${key}`);
      assert.equal(typeof d.attributes.panelsJSON, 'string');
      assert.equal(typeof d.attributes.optionsJSON, 'string');
      JSON.parse(d.attributes.optionsJSON as string);
      const panels = JSON.parse(d.attributes.panelsJSON as string) as Array<Record<string, unknown> & { gridData: { x: number; y: number; w: number; h: number; i: string }; panelIndex: string }>;
      assert.ok(panels.length >= 3, d.id);
      const used = new Set<string>();
      for (const p of panels) {
        assert.equal(p.panelIndex, p.gridData.i, `${d.id}: panelIndex = gridData.i`);
        assert.ok(!p.panelIndex.includes(':'), `${d.id}: panelIndex ${p.panelIndex}`);
        assert.equal(p.panelRefName, `panel_${p.panelIndex}`, `${d.id}: panelRefName`);
        assert.ok(!('id' in p) && !('savedObjectId' in p) && !('savedObjectId' in (p.embeddableConfig as object)), `${d.id}: no inline id in panel ${p.panelIndex}`);
        const name = `${p.panelIndex}:panel_${p.panelIndex}`;
        const ref = d.references.find((r) => r.name === name);
        assert.ok(ref, `${d.id}: reference ${name}`);
        assert.equal(ref.type, p.type, `${d.id}: ${name} has the panel's type`);
        used.add(name);
        const { x, y, w, h } = p.gridData;
        assert.ok(x >= 0 && w > 0 && x + w <= GRID_COLUMNS && y >= 0 && h > 0, `${d.id}: panel ${p.panelIndex} fits the grid`);
      }
      for (const [i, a] of panels.entries()) {
        for (const b of panels.slice(i + 1)) {
          const overlap = a.gridData.x < b.gridData.x + b.gridData.w && b.gridData.x < a.gridData.x + a.gridData.w && a.gridData.y < b.gridData.y + b.gridData.h && b.gridData.y < a.gridData.y + a.gridData.h;
          assert.ok(!overlap, `${d.id}: panels ${a.panelIndex} and ${b.panelIndex} overlap`);
        }
      }
      const controls = d.attributes.controlGroupInput as { panelsJSON: string } | undefined;
      const controlPanels = controls ? (JSON.parse(controls.panelsJSON) as Record<string, { type: string; explicitInput: { id: string; fieldName: string } }>) : {};
      for (const [id, control] of Object.entries(controlPanels)) {
        assert.equal(control.explicitInput.id, id);
        assert.equal(control.type, 'optionsListControl');
        const name = `controlGroup_${id}:optionsListDataView`;
        assert.ok(d.references.some((r) => r.name === name && r.type === 'index-pattern'), `${d.id}: reference ${name}`);
        used.add(name);
      }
      for (const r of d.references) {
        assert.ok(used.has(r.name), `${d.id}: unused reference ${r.name}`);
        if (!r.name.startsWith(`${r.name.split(':')[0]}:panel_`)) assert.ok(!r.name.includes('panel_'), `${d.id}: ${r.name} must not contain panel_`);
      }
      const source = JSON.parse((d.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON) as { query: { query: string }; filter: unknown[] };
      assert.equal(source.query.query, '');
    }
  });
});

describe('kibana/koa-sentinel.ndjson: fields against the index templates', () => {
  it('data views cover our families, their field formats name real fields', () => {
    for (const view of ofType('index-pattern')) {
      const fields = fieldsOfView(view);
      assert.equal(fields.get(String(view.attributes.timeFieldName))?.type, 'date', `${view.id}: time field`);
      const formats = view.attributes.fieldFormatMap ? (JSON.parse(view.attributes.fieldFormatMap as string) as Record<string, unknown>) : {};
      for (const field of Object.keys(formats)) assert.ok(fields.has(field), `${view.id}: field format for unknown field ${field}`);
    }
    assert.equal(templateFields('access').get('event.duration')?.type, 'long');
  });

  it('saved searches: columns and sort fields exist, the query names indexed fields with values that fit', () => {
    for (const o of ofType('search')) {
      const fields = fieldsOfView(viewOf(objects, o, 'kibanaSavedObjectMeta.searchSourceJSON.index'));
      for (const column of o.attributes.columns as string[]) assert.ok(fields.has(column), `${o.id}: column ${column} is not in the template`);
      for (const [field, direction] of o.attributes.sort as Array<[string, string]>) {
        assert.ok(fields.get(field)?.aggregatable, `${o.id}: sort field ${field} is not sortable`);
        assert.ok(['asc', 'desc'].includes(direction));
      }
      const source = searchSource(o);
      checkKql(o.id, source.query.query, fields);
      checkFilters(o.id, source.filter, fields);
    }
  });

  it('Lens: every column runs an operation its field\'s type allows, with the matching dataType; queries and filters name real fields', () => {
    for (const o of ofType('lens')) {
      const state = lensState(o);
      for (const [layerId, layer] of Object.entries(state.datasourceStates.formBased.layers)) {
        const fields = fieldsOfView(viewOf(objects, o, `indexpattern-datasource-layer-${layerId}`));
        for (const [id, column] of Object.entries(layer.columns) as Array<[string, LensColumn]>) {
          const where = `${o.id} column ${id}`;
          if (column.operationType === 'count') {
            assert.ok(column.sourceField === '___records___' || fields.has(column.sourceField ?? ''), `${where}: count source`);
            assert.equal(column.dataType, 'number', where);
            continue;
          }
          const allowed = OPERATION_TYPES[column.operationType];
          assert.ok(allowed, `${where}: operation ${column.operationType} is not one we check`);
          const info = fields.get(column.sourceField ?? '');
          assert.ok(info, `${where}: field ${column.sourceField} is not in the template`);
          assert.ok(info.aggregatable, `${where}: ${column.sourceField} has no doc values`);
          assert.ok(allowed.includes(info.type), `${where}: ${column.operationType} on ${column.sourceField} (${info.type})`);
          const expected = column.isBucketed || column.operationType === 'last_value' || column.operationType === 'min' || column.operationType === 'max' ? DATA_TYPE[info.type] : 'number';
          assert.equal(column.dataType, expected, `${where}: dataType`);
          assert.equal(column.isBucketed, ['date_histogram', 'terms'].includes(column.operationType), `${where}: isBucketed`);
        }
        checkKql(o.id, state.query.query, fields);
        checkFilters(o.id, state.filters, fields);
      }
    }
  });

  it('dashboard controls filter on aggregatable keyword fields of their data view', () => {
    for (const d of ofType('dashboard')) {
      const controls = d.attributes.controlGroupInput as { panelsJSON: string } | undefined;
      if (!controls) continue;
      for (const [id, control] of Object.entries(JSON.parse(controls.panelsJSON) as Record<string, { explicitInput: { fieldName: string } }>)) {
        const info = fieldsOfView(viewOf(objects, d, `controlGroup_${id}:optionsListDataView`)).get(control.explicitInput.fieldName);
        assert.ok(info?.aggregatable && ['keyword', 'ip'].includes(info.type), `${d.id}: control ${id} on ${control.explicitInput.fieldName}`);
      }
    }
  });

  it('the login history is filtered by user through the dashboard\'s User control on user.name', () => {
    const dashboard = byId(objects, IDS.authDashboard);
    assert.ok(dashboard.references.some((r) => r.id === IDS.loginHistory));
    const controls = JSON.parse((dashboard.attributes.controlGroupInput as { panelsJSON: string }).panelsJSON) as Record<string, { explicitInput: { fieldName: string; title: string; singleSelect: boolean } }>;
    assert.deepEqual(Object.values(controls).map((c) => [c.explicitInput.title, c.explicitInput.fieldName, c.explicitInput.singleSelect]), [['User', 'user.name', true]]);
    const layer = Object.values(lensState(byId(objects, IDS.loginHistory)).datasourceStates.formBased.layers)[0]!;
    assert.ok(Object.values(layer.columns).some((c) => c.sourceField === 'user.name'), 'the table shows the user');
  });
});

describe('kibana/koa-sentinel.ndjson: Lens states hang together', () => {
  const column = (layer: { columns: Record<string, LensColumn> }, id: unknown, where: string): LensColumn => {
    assert.equal(typeof id, 'string', where);
    const c = layer.columns[id as string];
    assert.ok(c, `${where}: column ${String(id)} does not exist`);
    return c;
  };

  it('columnOrder lists every column, buckets first; orderBy and accessors point at columns of the right kind', () => {
    for (const o of ofType('lens')) {
      const state = lensState(o);
      assert.ok(['lnsXY', 'lnsDatatable', 'lnsPie'].includes(String(o.attributes.visualizationType)), o.id);
      for (const [layerId, layer] of Object.entries(state.datasourceStates.formBased.layers)) {
        assert.deepEqual([...layer.columnOrder].sort(), Object.keys(layer.columns).sort(), `${o.id}: columnOrder`);
        const firstMetric = layer.columnOrder.findIndex((id) => !layer.columns[id]!.isBucketed);
        assert.ok(firstMetric > -1 && layer.columnOrder.slice(firstMetric).every((id) => !layer.columns[id]!.isBucketed), `${o.id}: buckets before metrics`);
        for (const c of Object.values(layer.columns)) {
          if (c.params?.orderBy?.type === 'column') assert.equal(column(layer, c.params.orderBy.columnId, o.id).isBucketed, false, `${o.id}: terms ordered by a metric`);
        }
        const v = state.visualization as Record<string, unknown>;
        if (o.attributes.visualizationType === 'lnsXY') {
          const layers = v.layers as Array<{ layerId: string; xAccessor: string; splitAccessor?: string; accessors: string[]; seriesType: string }>;
          const l = layers.find((x) => x.layerId === layerId)!;
          assert.ok(l, `${o.id}: visualization layer`);
          assert.ok(column(layer, l.xAccessor, o.id).isBucketed);
          if (l.splitAccessor) assert.ok(column(layer, l.splitAccessor, o.id).isBucketed);
          for (const a of l.accessors) assert.ok(!column(layer, a, o.id).isBucketed);
          assert.ok(['bar_stacked', 'bar_horizontal_stacked', 'bar', 'bar_horizontal', 'line', 'area', 'area_stacked'].includes(l.seriesType));
          assert.deepEqual(new Set([l.xAccessor, l.splitAccessor, ...l.accessors].filter(Boolean)), new Set(layer.columnOrder), `${o.id}: every column is shown`);
        } else if (o.attributes.visualizationType === 'lnsDatatable') {
          assert.equal(v.layerId, layerId);
          assert.deepEqual((v.columns as Array<{ columnId: string }>).map((c) => c.columnId), layer.columnOrder, `${o.id}: table columns`);
          column(layer, (v.sorting as { columnId: string }).columnId, o.id);
        } else {
          const l = (v.layers as Array<{ layerId: string; primaryGroups: string[]; metrics: string[] }>).find((x) => x.layerId === layerId)!;
          for (const g of l.primaryGroups) assert.ok(column(layer, g, o.id).isBucketed);
          for (const m of l.metrics) assert.ok(!column(layer, m, o.id).isBucketed);
        }
      }
    }
  });
});

describe('kibana/koa-sentinel.ndjson: queries say what their titles say', () => {
  const query = (id: string): string => searchSource(byId(objects, id)).query.query;

  it('token abuse: reuse (not of a revoked session), or an invalid token with exactly the token_tampering rule\'s reasons', () => {
    const text = query(IDS.tokenAbuse);
    const { terms } = translateKql(text);
    // `revoked` appears once, negated: a browser still holding a session that ended elsewhere is not abuse.
    assert.match(text, /authn_token_reuse and not event\.reason: revoked/);
    assert.deepEqual(new Set(terms.filter((t) => t.field === 'event.reason').map((t) => t.value)), new Set([...TAMPERING_REASONS, 'revoked']));
    for (const reason of ['expired', 'missing', 'not_before', 'user_disabled']) assert.ok(!terms.some((t) => t.value === reason), `${reason} is everyday life, not abuse`);
  });

  it('the searches name event.action values of the catalogue only', () => {
    for (const o of ofType('search')) {
      for (const t of translateKql(searchSource(o).query.query).terms.filter((x) => x.field === 'event.action')) assert.ok(Object.hasOwn(EVENT_CATALOGUE, t.value), `${o.id}: ${t.value}`);
    }
  });
});

describe('prefix rewriting', () => {
  it('points the three data views at <prefix>-<family>-* and changes nothing else', () => {
    const rewritten = parseNdjson(shippedText());
    const titles = rewriteIndexPrefix(rewritten, 'acme_prod');
    assert.deepEqual(titles, ['acme_prod-events-*', 'acme_prod-access-*', 'acme_prod-alerts-*']);
    for (const [i, o] of rewritten.entries()) {
      const original = objects[i]!;
      if (o.type === 'index-pattern') assert.deepEqual({ ...o, attributes: { ...(o.attributes as object), title: original.attributes.title } }, original);
      else assert.deepEqual(o, original);
    }
    assert.deepEqual(buildSavedObjects('acme_prod'), rewritten);
  });

  it('leaves titles that are not ours alone', () => {
    const list = [{ type: 'index-pattern', attributes: { title: 'logs-*' } }, { type: 'index-pattern', attributes: { title: `${DEFAULT_INDEX_PREFIX}-events-2026.*` } }];
    assert.deepEqual(rewriteIndexPrefix(list, 'acme'), []);
    assert.equal(list[0]!.attributes.title, 'logs-*');
  });
});
