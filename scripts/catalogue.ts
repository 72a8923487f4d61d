/**
 * Renders the event catalogue as the README's table. `npm run docs` rewrites the README between the markers;
 * test/events/catalogue.test.ts fails when the two drift apart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { EVENT_CATALOGUE } from '../src/events/catalogue.js';

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

export function withCatalogue(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end < start) throw new Error(`README.md needs the ${START} and ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n${renderCatalogue()}\n${readme.slice(end)}`;
}

if (process.argv[1]?.endsWith('catalogue.ts')) {
  writeFileSync('README.md', withCatalogue(readFileSync('README.md', 'utf8')));
  console.log('README.md event catalogue updated');
}
