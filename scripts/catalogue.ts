/**
 * `npm run docs`: the generated parts of docs/. Renders the event catalogue (src/events/catalogue.ts) as the table
 * of docs/events.md#catalogue, rewriting docs/events.md between the markers, and writes the reference server's
 * OpenAPI description (src/service/openapi.ts) to docs/openapi.json. test/events/catalogue.test.ts and
 * test/service/openapi.test.ts fail when either drifts from the code.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { EVENT_CATALOGUE } from '../src/events/catalogue.js';
import { buildOpenApi } from '../src/service/openapi.js';

/** The page that holds the generated table, relative to the repository root. */
export const CATALOGUE_PAGE = 'docs/events.md';
export const START = '<!-- catalogue:start -->';
export const END = '<!-- catalogue:end -->';

export function renderCatalogue(): string {
  const rows = Object.entries(EVENT_CATALOGUE).map(([action, entry]) => {
    const reasons = 'reasons' in entry ? entry.reasons.map((r) => `\`${r}\``).join(', ') : '';
    const name = entry.vocabulary === 'owasp' ? `\`${action}\`` : `\`${action}\` (ours)`;
    return `| ${name} | ${entry.category.join(', ')} | ${entry.type.join(', ')} | ${entry.outcome} | ${entry.level} | ${entry.description} | ${reasons} |`;
  });
  return [
    '| `event.action` | `event.category` | `event.type` | `event.outcome` | `log.level` | meaning | `event.reason` |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** `page` with the generated table between the markers. */
export function withCatalogue(page: string): string {
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  if (start === -1 || end < start) throw new Error(`${CATALOGUE_PAGE} needs the ${START} and ${END} markers`);
  return `${page.slice(0, start + START.length)}\n${renderCatalogue()}\n${page.slice(end)}`;
}

/** The OpenAPI description as committed, relative to the repository root (docs/api.md explains it). */
export const OPENAPI_FILE = 'docs/openapi.json';

export function renderOpenApi(): string {
  return `${JSON.stringify(buildOpenApi(), null, 2)}\n`;
}

if (process.argv[1]?.endsWith('catalogue.ts')) {
  writeFileSync(CATALOGUE_PAGE, withCatalogue(readFileSync(CATALOGUE_PAGE, 'utf8')));
  console.log(`${CATALOGUE_PAGE} event catalogue updated`);
  writeFileSync(OPENAPI_FILE, renderOpenApi());
  console.log(`${OPENAPI_FILE} written`);
}
