/**
 * Validates documents against the ECS schema as Elastic publishes it (`@elastic/ecs`'s `EcsFlat`, generated from
 * elastic/ecs `ecs_flat.yml`): the release we declare (8.11, the `ecs-8-11` alias) and the current one. Used by the
 * final schema test (test/final/ecs-schema.test.ts) over everything the suite indexed, and by unit tests.
 *
 * What is checked, per schema:
 * - every leaf field is an ECS field (our own `sentinel.*` namespace aside; an ECS `object`/`flattened`/`nested`
 *   field takes any object below it);
 * - its value has the ECS type: keyword, constant_keyword, wildcard, text and match_only_text are strings; long and
 *   integer whole numbers; float, double and scaled_float numbers; date an ISO 8601 string; ip an IPv4 or IPv6
 *   address; geo_point `{ lat, lon }`; boolean a boolean;
 * - an array only where ECS normalizes the field to an array, or for keywords (Elasticsearch takes arrays of any
 *   keyword, and ECS only marks the ones it expects to hold several values);
 * - values of fields with `allowed_values` (event.kind, event.category, event.type, event.outcome) are allowed;
 * - every `event.type` is expected by at least one of the document's `event.category` values;
 * - `ecs.version` is present.
 */
import { isIP } from 'node:net';
import { EcsFlat as EcsFlatCurrent, EcsVersion as CURRENT_VERSION } from '@elastic/ecs';
import { EcsFlat as EcsFlatDeclared, EcsVersion as DECLARED_VERSION } from 'ecs-8-11';

interface FieldSpec {
  type: string;
  normalize?: readonly string[];
  allowed_values?: ReadonlyArray<{ name: string; expected_event_types?: readonly string[] }>;
}

export interface EcsSchema {
  version: string;
  fields: Readonly<Record<string, FieldSpec>>;
}

export const ECS_SCHEMAS: readonly EcsSchema[] = [
  { version: DECLARED_VERSION, fields: EcsFlatDeclared as unknown as Record<string, FieldSpec> },
  { version: CURRENT_VERSION, fields: EcsFlatCurrent as unknown as Record<string, FieldSpec> },
];

/** Our namespace: documented in docs/events.md, mapped `dynamic: false`, not ECS by design. */
const OWN_NAMESPACES = new Set(['sentinel']);

export interface SchemaProblem {
  /** The ECS version whose schema the document breaks. */
  schema: string;
  field: string;
  problem: string;
}

const STRING_TYPES = new Set(['keyword', 'constant_keyword', 'wildcard', 'text', 'match_only_text']);
const INTEGER_TYPES = new Set(['long', 'integer', 'short', 'byte', 'unsigned_long']);
const NUMBER_TYPES = new Set(['float', 'double', 'scaled_float', 'half_float']);
const OBJECT_TYPES = new Set(['object', 'flattened', 'nested']);
const KEYWORD_TYPES = new Set(['keyword', 'constant_keyword', 'wildcard']);
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Why `value` is not a `type`, or undefined when it is one. */
function typeProblem(type: string, value: unknown): string | undefined {
  const shown = (): string => JSON.stringify(value)?.slice(0, 80) ?? String(value);
  if (STRING_TYPES.has(type)) return typeof value === 'string' ? undefined : `${shown()} is not a string (${type})`;
  if (INTEGER_TYPES.has(type)) return Number.isSafeInteger(value) ? undefined : `${shown()} is not a whole number (${type})`;
  if (NUMBER_TYPES.has(type)) return typeof value === 'number' && Number.isFinite(value) ? undefined : `${shown()} is not a number (${type})`;
  if (type === 'boolean') return typeof value === 'boolean' ? undefined : `${shown()} is not a boolean`;
  if (type === 'date') {
    return typeof value === 'string' && ISO_DATE.test(value) && !Number.isNaN(Date.parse(value)) ? undefined : `${shown()} is not an ISO 8601 date`;
  }
  if (type === 'ip') return typeof value === 'string' && isIP(value) !== 0 ? undefined : `${shown()} is not an IP address`;
  if (type === 'geo_point') {
    if (!isPlainObject(value)) return `${shown()} is not a { lat, lon } point`;
    const { lat, lon, ...rest } = value;
    const ok = typeof lat === 'number' && typeof lon === 'number' && Math.abs(lat) <= 90 && Math.abs(lon) <= 180 && Object.keys(rest).length === 0;
    return ok ? undefined : `${shown()} is not a { lat, lon } point`;
  }
  if (OBJECT_TYPES.has(type)) return isPlainObject(value) || (type === 'nested' && Array.isArray(value)) ? undefined : `${shown()} is not an object (${type})`;
  return `unknown ECS type ${type}`;
}

function checkField(schema: EcsSchema, path: string, spec: FieldSpec, value: unknown, problems: SchemaProblem[]): void {
  const report = (problem: string): void => void problems.push({ schema: schema.version, field: path, problem });
  if (Array.isArray(value) && spec.type !== 'nested') {
    if (!(spec.normalize?.includes('array') || KEYWORD_TYPES.has(spec.type))) report(`an array, but ECS does not normalize ${path} to an array`);
    for (const item of value) checkValue(item);
    return;
  }
  checkValue(value);

  function checkValue(item: unknown): void {
    if (item === null) return;
    const wrong = typeProblem(spec.type, item);
    if (wrong) return report(wrong);
    if (spec.allowed_values && typeof item === 'string' && !spec.allowed_values.some((allowed) => allowed.name === item)) {
      report(`"${item}" is not an allowed value (${spec.allowed_values.map((allowed) => allowed.name).join(', ')})`);
    }
  }
}

function walk(schema: EcsSchema, value: unknown, path: string, problems: SchemaProblem[]): void {
  if (value === null || value === undefined) return;
  const spec = schema.fields[path];
  if (spec) return checkField(schema, path, spec, value, problems);
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (path === '' && OWN_NAMESPACES.has(key)) continue;
      walk(schema, item, path ? `${path}.${key}` : key, problems);
    }
    return;
  }
  if (Array.isArray(value) && value.every(isPlainObject)) {
    for (const item of value) walk(schema, item, path, problems);
    return;
  }
  problems.push({ schema: schema.version, field: path, problem: 'not an ECS field' });
}

const asList = (value: unknown): unknown[] => (value === undefined || value === null ? [] : Array.isArray(value) ? value : [value]);

/** Every problem `doc` has under each schema (both by default); an empty list for a valid document. */
export function validateEcsDocument(doc: unknown, schemas: readonly EcsSchema[] = ECS_SCHEMAS): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const schema of schemas) {
    if (!isPlainObject(doc)) {
      problems.push({ schema: schema.version, field: '', problem: 'not an object' });
      continue;
    }
    walk(schema, doc, '', problems);
    const ecs = doc.ecs as { version?: unknown } | undefined;
    if (typeof ecs?.version !== 'string' || ecs.version === '') problems.push({ schema: schema.version, field: 'ecs.version', problem: 'missing' });
    const event = isPlainObject(doc.event) ? doc.event : {};
    const categories = asList(event.category).filter((c): c is string => typeof c === 'string');
    const allowed = schema.fields['event.category']?.allowed_values ?? [];
    for (const type of asList(event.type)) {
      const expectedBy = categories.filter((category) => allowed.find((a) => a.name === category)?.expected_event_types?.includes(type as string));
      if (expectedBy.length === 0) {
        const problem = categories.length === 0 ? `"${String(type)}" without an event.category` : `"${String(type)}" is expected by none of the categories ${categories.join(', ')}`;
        problems.push({ schema: schema.version, field: 'event.type', problem });
      }
    }
  }
  return problems;
}

/** A problem as one line, for reports and assertion messages. */
export const describeProblem = (problem: SchemaProblem, where?: string): string =>
  `${where ? `${where}: ` : ''}${problem.field || '(document)'} ${problem.problem} [ECS ${problem.schema}]`;
