import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

/**
 * No Docker engine runs here, so the stack is checked as far as it can be without one: the compose file parses
 * (Debian's docker-compose validates it without an engine), wires the services in the right order, and what the
 * containers run (the built CLI: `serve`, `setup`, `kibana import`) exists and starts. `setup` and `serve` are
 * exercised for real by the CLI and Elasticsearch tests.
 */

const ENV = { ...process.env, ELASTIC_PASSWORD: 'ci-elastic', KIBANA_PASSWORD: 'ci-kibana', JWT_SECRET: 'ci-not-a-real-secret-but-long-enough-1234567890' };

describe('docker/compose.yaml', () => {
  const config = (): string => execFileSync('docker-compose', ['-f', 'docker/compose.yaml', 'config'], { env: ENV, encoding: 'utf8' });

  it('is valid for docker-compose (parsed without an engine)', () => {
    const result = spawnSync('docker-compose', ['-f', 'docker/compose.yaml', 'config', '-q'], { env: ENV, encoding: 'utf8' });
    assert.equal(result.error, undefined, 'docker-compose is not installed: .ci/run installs Debian\'s docker-compose');
    assert.equal(result.status, 0, result.stderr);
  });

  it('refuses to start without the secrets it needs', () => {
    const result = spawnSync('docker-compose', ['-f', 'docker/compose.yaml', 'config', '-q'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /ELASTIC_PASSWORD|KIBANA_PASSWORD|JWT_SECRET/);
  });

  it('runs Elasticsearch 9 with security on, Kibana, a one-shot setup and the app, in that order', () => {
    const text = config();
    for (const service of ['elasticsearch:', 'elasticsearch-init:', 'kibana:', 'setup:', 'app:']) assert.ok(text.includes(`  ${service}`), service);
    assert.match(text, /elasticsearch\/elasticsearch:9\.\d+\.\d+/);
    assert.match(text, /xpack\.security\.enabled: ["']?true/);
    assert.match(text, /kibana\/kibana:9\.\d+\.\d+/);
    const app = text.slice(text.indexOf('\n  app:'), text.indexOf('\n  elasticsearch:'));
    assert.match(app, /setup:\s+condition: service_completed_successfully/);
    assert.match(app, /NODE_ENV: production/);
    const setup = text.slice(text.indexOf('\n  setup:'));
    assert.match(setup, /dist\/cli\/index\.js setup/);
    assert.match(setup, /dist\/cli\/index\.js kibana import/);
    assert.match(setup, /kibana:\s+condition: service_healthy/);
  });
});

describe('docker/Dockerfile', () => {
  const dockerfile = readFileSync('docker/Dockerfile', 'utf8');

  it('is multi-stage, production dependencies only, non-root, with a health check', () => {
    assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^HEALTHCHECK .*\/healthz/ms);
    assert.match(dockerfile, /ENTRYPOINT \["node", "dist\/cli\/index\.js"\]/);
  });

  it('runs what it builds: npm run build, then the compiled CLI', () => {
    // Inside the project (gitignored .cache/) so the compiled files resolve node_modules like dist/ does.
    mkdirSync('.cache', { recursive: true });
    const out = mkdtempSync(join('.cache', 'dist-'));
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', out], { stdio: 'pipe' });
    const help = spawnSync(process.execPath, [join(out, 'cli', 'index.js'), 'help'], { encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } });
    assert.equal(help.status, 0, help.stderr);
    for (const command of ['serve', 'setup', 'kibana import', 'anomalies run', 'users add']) assert.ok(help.stdout.includes(command), command);
    // In production the compiled server refuses to start without a secret: the container fails fast and loud.
    const serve = spawnSync(process.execPath, [join(out, 'cli', 'index.js'), 'serve'], { encoding: 'utf8', env: { PATH: process.env.PATH, NODE_ENV: 'production' }, timeout: 20_000 });
    assert.equal(serve.status, 2);
    assert.match(serve.stderr, /JWT_SECRET/);
    rmSync(out, { recursive: true, force: true });
  });
});
