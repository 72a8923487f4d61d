import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

/**
 * What can be checked without an engine, in every `npm test`: the compose file parses (Debian's docker-compose
 * validates it without one), wires the services in the right order with the least-privilege identities, keeps
 * secrets off command lines and the app independent of Kibana; the Dockerfile is pinned, multi-stage and
 * non-root. test/stack/compose-stack.ts (`npm run test:stack`) builds and runs the stack for real.
 */

const ENV = {
  ...process.env, ELASTIC_PASSWORD: 'ci-elastic-0123456789', KIBANA_PASSWORD: 'ci-kibana-0123456789', JWT_SECRET: 'ci-not-a-real-secret-but-long-enough-1234567890',
  SENTINEL_APP_PASSWORD: 'ci-app-0123456789ab', SENTINEL_JOBS_PASSWORD: 'ci-jobs-0123456789ab', SENTINEL_SETUP_PASSWORD: 'ci-setup-0123456789ab',
};

describe('docker/compose.yaml', () => {
  const config = (): string => execFileSync('docker-compose', ['-f', 'docker/compose.yaml', 'config'], { env: ENV, encoding: 'utf8' });
  const service = (text: string, name: string): string => {
    const start = text.indexOf(`\n  ${name}:\n`);
    assert.ok(start >= 0, name);
    const next = text.slice(start + 1).search(/\n {2}[a-z-]+:\n/);
    return text.slice(start, next < 0 ? undefined : start + 1 + next);
  };

  it('is valid for docker-compose (parsed without an engine)', () => {
    const result = spawnSync('docker-compose', ['-f', 'docker/compose.yaml', 'config', '-q'], { env: ENV, encoding: 'utf8' });
    assert.equal(result.error, undefined, 'docker-compose is not installed: .ci/run installs Debian\'s docker-compose');
    assert.equal(result.status, 0, result.stderr);
  });

  it('refuses to start without the secrets it needs, and ships no placeholder for them', () => {
    const result = spawnSync('docker-compose', ['-f', 'docker/compose.yaml', 'config', '-q'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /ELASTIC_PASSWORD|KIBANA_PASSWORD|JWT_SECRET|SENTINEL_\w+_PASSWORD/);
    const example = readFileSync('docker/.env.example', 'utf8');
    assert.doesNotMatch(example.replace(/^#.*$/gm, ''), /change-?me/i);
    for (const line of example.split('\n').filter((l) => /(PASSWORD|SECRET)=/.test(l))) assert.match(line, /=$/, line);
  });

  it('pins official images, and runs Elasticsearch, identities, setup, app, jobs and Kibana in that order', () => {
    const text = config();
    assert.match(text, /docker\.elastic\.co\/elasticsearch\/elasticsearch:9\.\d+\.\d+\n/);
    assert.match(text, /docker\.elastic\.co\/kibana\/kibana:9\.\d+\.\d+\n/);
    assert.doesNotMatch(text, /:latest\b/);
    assert.match(text, /xpack\.security\.enabled: ["']?true/);
    assert.match(service(text, 'identities'), /elasticsearch:\s+condition: service_healthy/);
    assert.match(service(text, 'setup'), /identities:\s+condition: service_completed_successfully/);
    const app = service(text, 'app');
    assert.match(app, /setup:\s+condition: service_completed_successfully/);
    assert.doesNotMatch(app, /kibana/, 'the app never waits for Kibana');
    assert.match(app, /NODE_ENV: production/);
    assert.match(app, /read_only: true/);
    assert.match(app, /ELASTICSEARCH_USERNAME: sentinel_app/);
    assert.match(service(text, 'setup'), /ELASTICSEARCH_USERNAME: sentinel_setup/);
    assert.match(service(text, 'jobs'), /ELASTICSEARCH_USERNAME: sentinel_jobs/);
    assert.match(service(text, 'kibana-import'), /kibana:\s+condition: service_healthy/);
  });

  it('keeps every password off command lines, and mounts the users folder, not a file', () => {
    const text = config();
    for (const secret of [ENV.ELASTIC_PASSWORD, ENV.KIBANA_PASSWORD, ENV.SENTINEL_APP_PASSWORD, ENV.SENTINEL_JOBS_PASSWORD, ENV.SENTINEL_SETUP_PASSWORD, ENV.JWT_SECRET]) {
      for (const line of text.split('\n').filter((l) => l.includes(secret))) {
        // Only as an environment value (KEY: value), never inside a command, entrypoint or health check.
        assert.match(line, /^\s+[A-Z_]+: /, `a secret outside the environment: ${line.replace(secret, '***')}`);
      }
    }
    assert.doesNotMatch(text, /--password/);
    assert.match(service(text, 'app'), /:\/etc\/koa-sentinel\/users:ro\n/);
    assert.match(service(text, 'app'), /AUTH_USERS_FILE: \/etc\/koa-sentinel\/users\/users\.json/);
  });
});

describe('docker/Dockerfile', () => {
  const dockerfile = readFileSync('docker/Dockerfile', 'utf8');

  it('is multi-stage on a pinned, selectable Node.js LTS base, production dependencies only, non-root, with a health check', () => {
    assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
    const base = /^ARG NODE_IMAGE=node:(\d+)\.\d+\.\d+-\S+$/m.exec(dockerfile);
    assert.ok(base, 'NODE_IMAGE pinned to a full version');
    assert.ok(Number(base[1]) >= 22 && Number(base[1]) % 2 === 0, `Node.js ${base[1]} is not a maintained LTS line`);
    assert.ok((dockerfile.match(/^FROM \$\{NODE_IMAGE\}/gm) ?? []).length >= 2);
    // The CA bundle for npm is a build secret, never an ARG or a COPY that would land in a layer.
    assert.match(dockerfile, /--mount=type=secret,id=extra_ca/);
    assert.doesNotMatch(dockerfile, /ARG .*CA|COPY .*\.crt/i);
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^HEALTHCHECK .*\/healthz/ms);
    assert.match(dockerfile, /ENTRYPOINT \["node", "dist\/cli\/index\.js"\]/);
  });

  it('runs what it builds: npm run build, then the compiled CLI', () => {
    // Inside the project (gitignored .cache/) so the compiled files resolve node_modules like dist/ does.
    mkdirSync('.cache', { recursive: true });
    // The image's layout: dist/ next to web/ and kibana/, which the server reads relative to its own files.
    const root = mkdtempSync(join('.cache', 'image-'));
    for (const folder of ['web', 'kibana']) symlinkSync(resolve(folder), join(root, folder));
    const out = join(root, 'dist');
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', out], { stdio: 'pipe' });
    const help = spawnSync(process.execPath, [join(out, 'cli', 'index.js'), 'help'], { encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } });
    assert.equal(help.status, 0, help.stderr);
    for (const command of ['serve', 'setup', 'kibana import', 'anomalies run', 'users add']) assert.ok(help.stdout.includes(command), command);
    // In production the compiled server refuses to start without a secret: the container fails fast and loud.
    const serve = spawnSync(process.execPath, [join(out, 'cli', 'index.js'), 'serve'], { encoding: 'utf8', env: { PATH: process.env.PATH, NODE_ENV: 'production' }, timeout: 20_000 });
    assert.equal(serve.status, 2);
    assert.match(serve.stderr, /JWT_SECRET/);
    rmSync(root, { recursive: true, force: true });
  });
});
