import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

/**
 * Two modules that import each other, directly or around a longer loop, are one concern split wrongly or a type
 * in the wrong place (docs/architecture.md). Type-only imports count too: they are still a dependency between
 * the two files. TypeScript's own pre-processor lists the imports, so re-exports and dynamic import() are seen.
 */

const SRC = resolve('src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** The files under src/ that `file` imports, by path; bare package imports are not ours. */
export function importsOf(file: string, text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((entry) => entry.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
}

/** Every elementary loop's first sighting, as a list of files from the loop's start back to it. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

describe('src/ import graph', () => {
  it('finds a loop when there is one, so a pass below means something', () => {
    const graph = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    assert.deepEqual(findCycles(graph), [['a', 'b', 'c', 'a']]);
    assert.deepEqual(findCycles(new Map([['a', ['b']], ['b', []], ['c', ['a', 'b']]])), []);
    const file = join(SRC, 'x', 'y.ts');
    const text = "import type { A } from './a.js';\nexport { B } from '../b.js';\nconst c = await import('./c.js');\nimport Router from '@koa/router';";
    assert.deepEqual(importsOf(file, text), [join(SRC, 'x', 'a.ts'), join(SRC, 'b.ts'), join(SRC, 'x', 'c.ts')]);
  });

  it('has no import cycles', () => {
    const files = sourceFiles(SRC);
    assert.ok(files.length > 20, `found only ${files.length} files under src/`);
    const graph = new Map(files.map((file) => [file, importsOf(file, readFileSync(file, 'utf8'))]));
    const cycles = findCycles(graph).map((cycle) => cycle.map((file) => relative(SRC, file)).join(' -> '));
    assert.deepEqual(cycles, []);
  });
});
