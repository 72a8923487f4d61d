/**
 * The Kibana saved objects for security staff (docs/kibana.md), built here as data and shipped as
 * `kibana/koa-sentinel.ndjson` (a test keeps the file equal to `toNdjson(buildSavedObjects())`).
 *
 * Rules that make one file import on Kibana 8.9+ and 9.x (docs/kibana.md#versions):
 * - every object carries `coreMigrationVersion: 8.8.0` and a `typeMigrationVersion` no newer than what 8.9 knows
 *   for its type, so 8.9 takes it as current and 9.x migrates it forward (a newer one is refused with 422);
 * - ids of other objects appear only in `references[]`, the only place import remaps them;
 * - dashboard panels reference their object as `<panelIndex>:panel_<panelIndex>`, the one form both majors read;
 * - Lens states use the `formBased` datasource and the 8.9 visualization shapes (pie `metrics`, `primaryGroups`).
 *
 * Queries are KQL restricted to `field: value`, `field: (a or b)`, `and`, `or`, `not`: the subset the tests
 * translate to Elasticsearch and run over generated events, so each title is checked against what it returns.
 */
import { fileURLToPath } from 'node:url';
import { TAMPERING_REASONS } from '../anomaly/rules/sessions.js';
import type { EventAction } from '../events/catalogue.js';

export const DEFAULT_INDEX_PREFIX = 'sentinel';

/** The shipped file (kibana/ at the package root, from src/kibana/ and dist/kibana/ alike), for Kibana's import page. */
export const SHIPPED_FILE = fileURLToPath(new URL('../../kibana/koa-sentinel.ndjson', import.meta.url));

/** The last migration Kibana 8.9 knows for each type we ship. */
export const TYPE_MIGRATION_VERSION = {
  'index-pattern': '7.11.0',
  search: '7.9.3',
  lens: '8.9.0',
  dashboard: '8.9.0',
} as const;
export const CORE_MIGRATION_VERSION = '8.8.0';

export type SavedObjectType = keyof typeof TYPE_MIGRATION_VERSION;

export interface SavedObjectReference {
  name: string;
  type: string;
  id: string;
}

export interface SavedObject {
  id: string;
  type: SavedObjectType;
  coreMigrationVersion: string;
  typeMigrationVersion: string;
  attributes: Record<string, unknown>;
  references: SavedObjectReference[];
}

/** Stable, readable ids: a re-import with --overwrite replaces exactly these objects. */
export const IDS = {
  eventsView: 'koa-sentinel-dv-events',
  accessView: 'koa-sentinel-dv-access',
  alertsView: 'koa-sentinel-dv-alerts',
  failedLogins: 'koa-sentinel-search-failed-logins',
  tokenAbuse: 'koa-sentinel-search-token-abuse',
  authzFailures: 'koa-sentinel-search-authz-failures',
  csrfRefusals: 'koa-sentinel-search-csrf-refusals',
  alerts: 'koa-sentinel-search-alerts',
  authOutcomes: 'koa-sentinel-lens-auth-outcomes',
  topFailingSources: 'koa-sentinel-lens-top-failing-sources',
  targetedUsers: 'koa-sentinel-lens-targeted-users',
  loginHistory: 'koa-sentinel-lens-login-history',
  responseCodes: 'koa-sentinel-lens-response-codes',
  alertsByRule: 'koa-sentinel-lens-alerts-by-rule',
  alertsOverTime: 'koa-sentinel-lens-alerts-over-time',
  alertsBySeverity: 'koa-sentinel-lens-alerts-by-severity',
  loginsByCountry: 'koa-sentinel-lens-logins-by-country',
  loginsByNetwork: 'koa-sentinel-lens-logins-by-network',
  devicesPerUser: 'koa-sentinel-lens-devices-per-user',
  authDashboard: 'koa-sentinel-dashboard-authentication',
  alertsDashboard: 'koa-sentinel-dashboard-alerts',
} as const;

/** The index families a data view covers; its title is `<prefix>-<family>-*`. */
const DATA_VIEWS = [
  { id: IDS.eventsView, family: 'events', name: 'koa-sentinel security events' },
  { id: IDS.accessView, family: 'access', name: 'koa-sentinel access log' },
  { id: IDS.alertsView, family: 'alerts', name: 'koa-sentinel alerts' },
] as const;

const anyOf = (field: string, values: readonly string[]): string => (values.length === 1 ? `${field}: ${values[0]}` : `${field}: (${values.join(' or ')})`);
const actions = (...names: EventAction[]): string => anyOf('event.action', names);

/** A login attempt with its result: accepted, refused (401) or refused while throttled (429). */
const LOGIN_ATTEMPT = actions('authn_login_success', 'authn_login_successafterfail', 'authn_login_fail', 'excess_rate_limit_exceeded');
const LOGIN_SUCCESS = actions('authn_login_success', 'authn_login_successafterfail');
const FAILED_LOGIN = actions('authn_login_fail', 'excess_rate_limit_exceeded');

/** The saved queries, by object id. */
export const QUERIES = {
  failedLogins: FAILED_LOGIN,
  // The same reasons as the token_tampering rule: forged or altered tokens, not expired or revoked ones.
  tokenAbuse: `(event.action: authn_token_reuse and not event.reason: revoked) or (event.action: authn_token_invalid and ${anyOf('event.reason', TAMPERING_REASONS)})`,
  authzFailures: actions('authz_fail'),
  csrfRefusals: actions('malicious_csrf'),
  alerts: 'event.kind: alert',
  loginAttempts: LOGIN_ATTEMPT,
  successfulLogins: LOGIN_SUCCESS,
} as const;

/** CC BY 4.0: wherever the default database's results are shown, its source is named. */
const GEO_CREDIT = 'Places and networks come from the geolocation database configured (docs/enrichment.md); with the default one: IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0. Private and documentation addresses are never geolocated.';

function object(type: SavedObjectType, id: string, attributes: Record<string, unknown>, references: SavedObjectReference[] = []): SavedObject {
  return { id, type, coreMigrationVersion: CORE_MIGRATION_VERSION, typeMigrationVersion: TYPE_MIGRATION_VERSION[type], attributes, references };
}

const kuery = (query: string): { query: string; language: 'kuery' } => ({ query, language: 'kuery' });

// ---------------------------------------------------------------------------------------------------- data views

function dataViews(prefix: string): SavedObject[] {
  return DATA_VIEWS.map(({ id, family, name }) => object('index-pattern', id, {
    title: `${prefix}-${family}-*`,
    name,
    timeFieldName: '@timestamp',
    // event.duration is in nanoseconds (ECS); show milliseconds.
    ...(family === 'access'
      ? { fieldFormatMap: JSON.stringify({ 'event.duration': { id: 'duration', params: { inputFormat: 'nanoseconds', outputFormat: 'asMilliseconds', outputPrecision: 1 } } }) }
      : {}),
  }));
}

// ------------------------------------------------------------------------------------------------ saved searches

interface SearchSpec {
  id: string;
  title: string;
  description: string;
  view: string;
  query: string;
  columns: string[];
}

function search(spec: SearchSpec): SavedObject {
  const searchSource = { query: kuery(spec.query), filter: [], indexRefName: 'kibanaSavedObjectMeta.searchSourceJSON.index' };
  return object('search', spec.id, {
    title: spec.title,
    description: spec.description,
    columns: spec.columns,
    sort: [['@timestamp', 'desc']],
    kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify(searchSource) },
  }, [{ name: 'kibanaSavedObjectMeta.searchSourceJSON.index', type: 'index-pattern', id: spec.view }]);
}

function searches(): SavedObject[] {
  return [
    search({
      id: IDS.failedLogins, view: IDS.eventsView, query: QUERIES.failedLogins,
      title: '[koa-sentinel] Failed logins',
      description: 'Login attempts refused: wrong credentials, unknown or disabled user, malformed body (authn_login_fail, reason in event.reason), and attempts refused while throttled (excess_rate_limit_exceeded, 429).',
      columns: ['user.name', 'source.ip', 'event.action', 'event.reason', 'user_agent.original'],
    }),
    search({
      id: IDS.tokenAbuse, view: IDS.eventsView, query: QUERIES.tokenAbuse,
      title: '[koa-sentinel] Token abuse: tampering and refresh token reuse',
      description: 'Forged or altered tokens (authn_token_invalid with a tampering reason: bad signature, algorithm, header, type, issuer, audience, claims, kid, size, duplicate cookie) and reuse of a rotated refresh token (authn_token_reuse: the session was stolen and its family revoked). Expired, missing and revoked tokens are left out: they are everyday life.',
      columns: ['event.action', 'event.reason', 'user.name', 'source.ip', 'url.path', 'sentinel.session_id', 'user_agent.original'],
    }),
    search({
      id: IDS.authzFailures, view: IDS.eventsView, query: QUERIES.authzFailures,
      title: '[koa-sentinel] Authorization failures',
      description: 'Signed-in users refused a resource for lack of a role (authz_fail, 403).',
      columns: ['user.name', 'http.request.method', 'url.path', 'sentinel.required_roles', 'source.ip'],
    }),
    search({
      id: IDS.csrfRefusals, view: IDS.eventsView, query: QUERIES.csrfRefusals,
      title: '[koa-sentinel] CSRF refusals',
      description: 'Unsafe requests refused by the CSRF checks (malicious_csrf, 403 csrf_failed): cross-site, wrong origin or referer, missing or wrong X-CSRF-Token.',
      columns: ['event.reason', 'user.name', 'http.request.method', 'url.path', 'source.ip', 'user_agent.original'],
    }),
    search({
      id: IDS.alerts, view: IDS.alertsView, query: QUERIES.alerts,
      title: '[koa-sentinel] Alerts',
      description: 'Alerts of the anomaly rules (event.kind: alert), newest first. sentinel.alert.severity holds the severity. The daily reviews stored beside them (event.kind: metric) are left out.',
      columns: ['rule.name', 'sentinel.alert.severity', 'sentinel.alert.entity_type', 'sentinel.alert.entity', 'sentinel.alert.count', 'message'],
    }),
  ];
}

// ---------------------------------------------------------------------------------------------------------- Lens

type Column = Record<string, unknown>;

const column = {
  dateHistogram: (interval = 'auto', label = '@timestamp'): Column => ({
    label, customLabel: label !== '@timestamp', dataType: 'date', operationType: 'date_histogram', sourceField: '@timestamp', isBucketed: true, scale: 'interval',
    params: { interval, includeEmptyRows: interval === 'auto', dropPartials: false },
  }),
  /** `missingBucket`: documents without the field make a "(missing value)" row instead of dropping out. */
  terms: (field: string, dataType: 'string' | 'ip' | 'number', size: number, orderBy: string, label: string, missingBucket = false): Column => ({
    label, customLabel: true, dataType, operationType: 'terms', sourceField: field, isBucketed: true, scale: 'ordinal',
    params: { size, orderBy: { type: 'column', columnId: orderBy }, orderDirection: 'desc', otherBucket: false, missingBucket, parentFormat: { id: 'terms' } },
  }),
  count: (label: string): Column => ({
    label, customLabel: true, dataType: 'number', operationType: 'count', sourceField: '___records___', isBucketed: false, scale: 'ratio', params: { emptyAsNull: true },
  }),
  uniqueCount: (field: string, label: string): Column => ({
    label, customLabel: true, dataType: 'number', operationType: 'unique_count', sourceField: field, isBucketed: false, scale: 'ratio', params: { emptyAsNull: true },
  }),
  lastSeen: (label: string): Column => ({
    label, customLabel: true, dataType: 'date', operationType: 'max', sourceField: '@timestamp', isBucketed: false, scale: 'ratio', params: { emptyAsNull: true },
  }),
};

interface LensSpec {
  id: string;
  title: string;
  description: string;
  view: string;
  query: string;
  visualizationType: 'lnsXY' | 'lnsDatatable' | 'lnsPie';
  /** In the order of the layer's columnOrder: buckets first (outermost first), then metrics. */
  columns: Record<string, Column>;
  visualization: Record<string, unknown>;
}

/** One layer, id `layer`: every chart here has one. */
const LAYER = 'layer';

function lens(spec: LensSpec): SavedObject {
  return object('lens', spec.id, {
    title: spec.title,
    description: spec.description,
    visualizationType: spec.visualizationType,
    state: {
      datasourceStates: { formBased: { layers: { [LAYER]: { columnOrder: Object.keys(spec.columns), columns: spec.columns, incompleteColumns: {} } } } },
      visualization: spec.visualization,
      query: kuery(spec.query),
      filters: [],
      internalReferences: [],
      adHocDataViews: {},
    },
  }, [{ name: `indexpattern-datasource-layer-${LAYER}`, type: 'index-pattern', id: spec.view }]);
}

function xy(seriesType: string, x: string, accessors: string[], split?: string): Record<string, unknown> {
  return {
    legend: { isVisible: true, position: 'right' },
    valueLabels: 'hide',
    fittingFunction: 'None',
    preferredSeriesType: seriesType,
    layers: [{ layerId: LAYER, layerType: 'data', seriesType, xAccessor: x, accessors, ...(split ? { splitAccessor: split } : {}) }],
  };
}

function table(columns: string[], sortBy: string): Record<string, unknown> {
  return {
    layerId: LAYER,
    layerType: 'data',
    columns: columns.map((columnId) => ({ columnId, isTransposed: false })),
    sorting: { columnId: sortBy, direction: 'desc' },
    paging: { enabled: true, size: 20 },
  };
}

function visualizations(): SavedObject[] {
  return [
    lens({
      id: IDS.authOutcomes, view: IDS.eventsView, query: QUERIES.loginAttempts, visualizationType: 'lnsXY',
      title: '[koa-sentinel] Authentication outcomes over time',
      description: 'Login attempts over time, success against failure (failures include attempts refused while throttled).',
      columns: { time: column.dateHistogram(), outcome: column.terms('event.outcome', 'string', 3, 'attempts', 'Outcome'), attempts: column.count('Login attempts') },
      visualization: xy('bar_stacked', 'time', ['attempts'], 'outcome'),
    }),
    lens({
      id: IDS.topFailingSources, view: IDS.eventsView, query: QUERIES.failedLogins, visualizationType: 'lnsDatatable',
      title: '[koa-sentinel] Top failing source IPs',
      description: 'Source addresses with the most failed logins, and how many accounts each tried: one account means brute force, many mean spraying or stuffing.',
      columns: { source: column.terms('source.ip', 'ip', 10, 'failures', 'Source IP'), failures: column.count('Failed logins'), accounts: column.uniqueCount('user.name', 'Accounts tried') },
      visualization: table(['source', 'failures', 'accounts'], 'failures'),
    }),
    lens({
      id: IDS.targetedUsers, view: IDS.eventsView, query: QUERIES.failedLogins, visualizationType: 'lnsDatatable',
      title: '[koa-sentinel] Most targeted users',
      description: 'Accounts with the most failed logins, and from how many sources: many sources against one account is a distributed attack.',
      columns: { user: column.terms('user.name', 'string', 10, 'failures', 'User'), failures: column.count('Failed logins'), sources: column.uniqueCount('source.ip', 'Source IPs') },
      visualization: table(['user', 'failures', 'sources'], 'failures'),
    }),
    lens({
      id: IDS.loginHistory, view: IDS.eventsView, query: QUERIES.loginAttempts, visualizationType: 'lnsDatatable',
      title: '[koa-sentinel] Login history of one user',
      description: 'Every login attempt by minute, result, source and browser, newest first (over long time ranges Kibana widens the minutes to keep the table small: narrow the range to see single minutes). Choose the user with the "User" control of the "Authentication security" dashboard, or add a filter user.name: <name> in Lens (see the README, "Kibana").',
      columns: {
        time: column.dateHistogram('1m', 'Time'),
        user: column.terms('user.name', 'string', 20, 'attempts', 'User'),
        result: column.terms('event.action', 'string', 4, 'attempts', 'Result'),
        source: column.terms('source.ip', 'ip', 10, 'attempts', 'Source IP'),
        agent: column.terms('user_agent.original', 'string', 5, 'attempts', 'User agent'),
        attempts: column.count('Attempts'),
      },
      visualization: table(['time', 'user', 'result', 'source', 'agent', 'attempts'], 'time'),
    }),
    lens({
      id: IDS.responseCodes, view: IDS.accessView, query: '', visualizationType: 'lnsXY',
      title: '[koa-sentinel] Response codes over time',
      description: 'Requests per HTTP status code over time, from the access log.',
      columns: { time: column.dateHistogram(), status: column.terms('http.response.status_code', 'number', 10, 'requests', 'Status code'), requests: column.count('Requests') },
      visualization: xy('bar_stacked', 'time', ['requests'], 'status'),
    }),
    lens({
      id: IDS.loginsByCountry, view: IDS.eventsView, query: QUERIES.loginAttempts, visualizationType: 'lnsXY',
      title: '[koa-sentinel] Login attempts by country',
      description: `Login attempts per country of the client address (source.geo.country_iso_code), success against failure: a country that suddenly sends failures is an attack from there. Un-geolocated addresses are left out. ${GEO_CREDIT}`,
      columns: { country: column.terms('source.geo.country_iso_code', 'string', 15, 'attempts', 'Country'), outcome: column.terms('event.outcome', 'string', 3, 'attempts', 'Outcome'), attempts: column.count('Login attempts') },
      visualization: xy('bar_horizontal_stacked', 'country', ['attempts'], 'outcome'),
    }),
    lens({
      id: IDS.loginsByNetwork, view: IDS.eventsView, query: QUERIES.failedLogins, visualizationType: 'lnsDatatable',
      title: '[koa-sentinel] Failed logins by network',
      description: `Networks (autonomous systems, source.as.organization.name) with the most failed logins, how many accounts and addresses each used: many addresses of one hosting network against many accounts is a botnet or a proxy pool. Needs an ASN database. ${GEO_CREDIT}`,
      columns: {
        network: column.terms('source.as.organization.name', 'string', 10, 'failures', 'Network'),
        failures: column.count('Failed logins'),
        accounts: column.uniqueCount('user.name', 'Accounts tried'),
        sources: column.uniqueCount('source.ip', 'Source IPs'),
      },
      visualization: table(['network', 'failures', 'accounts', 'sources'], 'failures'),
    }),
    lens({
      id: IDS.devicesPerUser, view: IDS.eventsView, query: QUERIES.successfulLogins, visualizationType: 'lnsDatatable',
      title: '[koa-sentinel] Devices per user',
      description: 'Each user\'s devices, from successful logins: browser (user_agent.name), operating system (user_agent.os.name) and device (user_agent.device.name; desktops name none), how often and when last. A device a user never had is worth a question. Choose the user with the "User" control of the "Authentication security" dashboard.',
      columns: {
        user: column.terms('user.name', 'string', 20, 'logins', 'User'),
        browser: column.terms('user_agent.name', 'string', 5, 'logins', 'Browser', true),
        os: column.terms('user_agent.os.name', 'string', 5, 'logins', 'Operating system', true),
        device: column.terms('user_agent.device.name', 'string', 5, 'logins', 'Device', true),
        logins: column.count('Logins'),
        last: column.lastSeen('Last login'),
      },
      visualization: table(['user', 'browser', 'os', 'device', 'logins', 'last'], 'logins'),
    }),
    lens({
      id: IDS.alertsByRule, view: IDS.alertsView, query: QUERIES.alerts, visualizationType: 'lnsXY',
      title: '[koa-sentinel] Alerts by rule and severity',
      description: 'Alerts per detection rule, stacked by severity (sentinel.alert.severity).',
      columns: { rule: column.terms('rule.name', 'string', 20, 'alerts', 'Rule'), severity: column.terms('sentinel.alert.severity', 'string', 4, 'alerts', 'Severity'), alerts: column.count('Alerts') },
      visualization: xy('bar_horizontal_stacked', 'rule', ['alerts'], 'severity'),
    }),
    lens({
      id: IDS.alertsOverTime, view: IDS.alertsView, query: QUERIES.alerts, visualizationType: 'lnsXY',
      title: '[koa-sentinel] Alerts over time by severity',
      description: 'Alerts over time, stacked by severity (sentinel.alert.severity).',
      columns: { time: column.dateHistogram(), severity: column.terms('sentinel.alert.severity', 'string', 4, 'alerts', 'Severity'), alerts: column.count('Alerts') },
      visualization: xy('bar_stacked', 'time', ['alerts'], 'severity'),
    }),
    lens({
      id: IDS.alertsBySeverity, view: IDS.alertsView, query: QUERIES.alerts, visualizationType: 'lnsPie',
      title: '[koa-sentinel] Alerts by severity',
      description: 'Share of alerts per severity (sentinel.alert.severity).',
      columns: { severity: column.terms('sentinel.alert.severity', 'string', 4, 'alerts', 'Severity'), alerts: column.count('Alerts') },
      visualization: {
        shape: 'donut',
        layers: [{
          layerId: LAYER, layerType: 'data', primaryGroups: ['severity'], metrics: ['alerts'],
          numberDisplay: 'value', categoryDisplay: 'default', legendDisplay: 'default', nestedLegend: false,
        }],
      },
    }),
  ];
}

// ---------------------------------------------------------------------------------------------------- dashboards

interface Panel {
  /** Also the grid item id and the reference's prefix: `<panelIndex>:panel_<panelIndex>`. */
  panelIndex: string;
  type: 'lens' | 'search';
  id: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Control {
  id: string;
  field: string;
  title: string;
  view: string;
}

function dashboard(id: string, title: string, description: string, panels: Panel[], controls: Control[] = []): SavedObject {
  const panelsJSON = panels.map((p) => ({
    version: '8.9.0',
    type: p.type,
    gridData: { x: p.x, y: p.y, w: p.w, h: p.h, i: p.panelIndex },
    panelIndex: p.panelIndex,
    embeddableConfig: { enhancements: {} },
    panelRefName: `panel_${p.panelIndex}`,
  }));
  const references: SavedObjectReference[] = panels.map((p) => ({ name: `${p.panelIndex}:panel_${p.panelIndex}`, type: p.type, id: p.id }));
  const attributes: Record<string, unknown> = {
    title,
    description,
    timeRestore: true,
    timeFrom: 'now-24h',
    timeTo: 'now',
    refreshInterval: { pause: false, value: 60_000 },
    panelsJSON: JSON.stringify(panelsJSON),
    optionsJSON: JSON.stringify({ useMargins: true, syncColors: false, syncCursor: true, syncTooltips: false, hidePanelTitles: false }),
    kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: kuery(''), filter: [] }) },
  };
  if (controls.length > 0) {
    // Options list controls; the data view goes by reference `controlGroup_<id>:optionsListDataView`, which
    // 8.x writes and 9.x still reads.
    const controlPanels = Object.fromEntries(controls.map((c, order) => [c.id, {
      order, width: 'medium', grow: true, type: 'optionsListControl',
      explicitInput: { id: c.id, fieldName: c.field, title: c.title, singleSelect: true, selectedOptions: [], enhancements: {} },
    }]));
    attributes.controlGroupInput = {
      controlStyle: 'oneLine',
      chainingSystem: 'HIERARCHICAL',
      ignoreParentSettingsJSON: JSON.stringify({ ignoreFilters: false, ignoreQuery: false, ignoreTimerange: false, ignoreValidations: false }),
      panelsJSON: JSON.stringify(controlPanels),
    };
    references.push(...controls.map((c) => ({ name: `controlGroup_${c.id}:optionsListDataView`, type: 'index-pattern', id: c.view })));
  }
  return object('dashboard', id, attributes, references);
}

function dashboards(): SavedObject[] {
  return [
    dashboard(IDS.authDashboard, '[koa-sentinel] Authentication security',
      'Logins, failing sources, targeted accounts, token abuse, authorization and CSRF refusals, where logins come from (countries, networks) and on what (devices per user). Choose a user in the "User" control to see that user only (the login history and devices tables first of all).',
      [
        { panelIndex: 'outcomes', type: 'lens', id: IDS.authOutcomes, x: 0, y: 0, w: 32, h: 12 },
        { panelIndex: 'sources', type: 'lens', id: IDS.topFailingSources, x: 32, y: 0, w: 16, h: 12 },
        { panelIndex: 'users', type: 'lens', id: IDS.targetedUsers, x: 0, y: 12, w: 16, h: 12 },
        { panelIndex: 'status', type: 'lens', id: IDS.responseCodes, x: 16, y: 12, w: 32, h: 12 },
        { panelIndex: 'history', type: 'lens', id: IDS.loginHistory, x: 0, y: 24, w: 48, h: 14 },
        { panelIndex: 'failed', type: 'search', id: IDS.failedLogins, x: 0, y: 38, w: 24, h: 14 },
        { panelIndex: 'tokens', type: 'search', id: IDS.tokenAbuse, x: 24, y: 38, w: 24, h: 14 },
        { panelIndex: 'authz', type: 'search', id: IDS.authzFailures, x: 0, y: 52, w: 24, h: 12 },
        { panelIndex: 'csrf', type: 'search', id: IDS.csrfRefusals, x: 24, y: 52, w: 24, h: 12 },
        { panelIndex: 'countries', type: 'lens', id: IDS.loginsByCountry, x: 0, y: 64, w: 24, h: 14 },
        { panelIndex: 'networks', type: 'lens', id: IDS.loginsByNetwork, x: 24, y: 64, w: 24, h: 14 },
        { panelIndex: 'devices', type: 'lens', id: IDS.devicesPerUser, x: 0, y: 78, w: 48, h: 14 },
      ],
      [{ id: 'user', field: 'user.name', title: 'User', view: IDS.eventsView }]),
    dashboard(IDS.alertsDashboard, '[koa-sentinel] Alerts',
      'Alerts of the anomaly rules: by rule and severity, over time, and the list with the evidence (sentinel.alert.*).',
      [
        { panelIndex: 'by-rule', type: 'lens', id: IDS.alertsByRule, x: 0, y: 0, w: 32, h: 14 },
        { panelIndex: 'severity', type: 'lens', id: IDS.alertsBySeverity, x: 32, y: 0, w: 16, h: 14 },
        { panelIndex: 'over-time', type: 'lens', id: IDS.alertsOverTime, x: 0, y: 14, w: 48, h: 10 },
        { panelIndex: 'list', type: 'search', id: IDS.alerts, x: 0, y: 24, w: 48, h: 18 },
      ]),
  ];
}

// ------------------------------------------------------------------------------------------------------- output

/** Every object, referenced objects before the objects that reference them. */
export function buildSavedObjects(prefix = DEFAULT_INDEX_PREFIX): SavedObject[] {
  return [...dataViews(prefix), ...searches(), ...visualizations(), ...dashboards()];
}

export function toNdjson(objects: readonly object[]): string {
  return objects.map((o) => JSON.stringify(o)).join('\n') + '\n';
}

/** One line of an export file: any saved object, with at least its id and type. */
export type NdjsonObject = Record<string, unknown> & { id: string; type: string };

/** Parses an export file: one object per line, each with a string id and type. Throws naming the bad line. */
export function parseNdjson(text: string, source = 'the file'): NdjsonObject[] {
  const objects: NdjsonObject[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`${source} line ${i + 1} is not JSON: ${(error as Error).message}`);
    }
    const o = value as { id?: unknown; type?: unknown } | null;
    if (typeof o !== 'object' || o === null || Array.isArray(o) || typeof o.id !== 'string' || typeof o.type !== 'string') {
      throw new Error(`${source} line ${i + 1} is not a saved object (an object with string "id" and "type").`);
    }
    objects.push(o as NdjsonObject);
  });
  if (objects.length === 0) throw new Error(`${source} holds no saved objects.`);
  return objects;
}

const DEFAULT_TITLE = new RegExp(`^${DEFAULT_INDEX_PREFIX}-(events|access|alerts|deadletter)-\\*$`);

/**
 * Points the data views at another index prefix: every `index-pattern` whose title is `sentinel-<family>-*`
 * gets `<prefix>-<family>-*`. Ids stay, so importing a second prefix into the same space replaces the first:
 * use a space per prefix. Returns the rewritten titles.
 */
export function rewriteIndexPrefix<T extends { type: string; attributes?: unknown }>(objects: T[], prefix: string): string[] {
  const titles: string[] = [];
  for (const o of objects) {
    const attributes = o.attributes as { title?: unknown } | undefined;
    if (o.type !== 'index-pattern' || typeof attributes?.title !== 'string') continue;
    const match = DEFAULT_TITLE.exec(attributes.title);
    if (!match) continue;
    const title = `${prefix}-${match[1]}-*`;
    attributes.title = title;
    titles.push(title);
  }
  return titles;
}

/** Lowercase letters, digits, - and _, not starting with - or _: what Elasticsearch allows at an index's start. */
export function isValidIndexPrefix(prefix: string): boolean {
  return /^[a-z0-9][a-z0-9_-]*$/.test(prefix);
}
