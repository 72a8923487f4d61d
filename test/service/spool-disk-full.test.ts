/**
 * A full disk under the spool, for real: the reference server started from its environment with SPOOL_DIR on a
 * 1 MiB tmpfs (mounted here; the test runs as root), the tmpfs filled from outside the server, the free space read
 * with statfs. With the default SPOOL_ON_FAILURE=drop the server keeps serving, reports degraded with its losses
 * counted, and recovers by itself when space returns (the next security event is in the spool again). With
 * SPOOL_ON_FAILURE=refuse it answers 503 dependency_unavailable instead, except on /healthz, until space returns.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/env.js';
import type { ShipperStats } from '../../src/elastic/shipper.js';
import { startServer, type RunningServer } from '../../src/service/server.js';
import { addUserToFile } from '../../src/session/users.js';
import { TEST_SCRYPT, TestClient } from '../support/http-server.js';
import { removeSpool } from '../support/secret-ledger.js';

const PASSWORD = `ops-${randomBytes(9).toString('base64url')}`;

interface Health {
  status: 'ok' | 'degraded';
  shipper: ShipperStats;
}

/** A 1 MiB tmpfs; `release()` unmounts it (lazily if the server still holds a file there) and removes the folder. */
function mountSmallTmpfs(): { dir: string; release(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir]);
  return {
    dir,
    release() {
      try {
        execFileSync('umount', [dir]);
      } catch {
        execFileSync('umount', ['-l', dir]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fills the file system from outside the server, page by page, until it refuses; returns the filler's path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const page = Buffer.alloc(4096, 0x61);
  try {
    for (;;) writeSync(fd, page);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  assert.equal(statfsSync(dir).bavail, 0, 'statfs: no block left');
  return path;
}

/** Every chunk file holds whole JSON lines only: a write cut short by the full disk was taken back out. */
function assertWholeLines(spool: string): number {
  let lines = 0;
  for (const name of readdirSync(spool).filter((file) => file.startsWith('chunk-'))) {
    const text = readFileSync(join(spool, name), 'utf8');
    assert.ok(text === '' || text.endsWith('\n'), `${name} ends with a whole line`);
    for (const line of text.split('\n').filter(Boolean)) {
      assert.doesNotThrow(() => JSON.parse(line), `${name}: ${line.slice(0, 80)}`);
      lines += 1;
    }
  }
  return lines;
}

async function startFromEnvironment(extra: Record<string, string>, spoolOnly = false): Promise<RunningServer> {
  return startServer(loadConfig({
    NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn',
    JWT_SECRET: `k-${randomBytes(48).toString('base64url')}`,
    ...extra,
  }), { stdout: false, spoolOnly });
}

async function healthOf(admin: TestClient): Promise<Health> {
  const res = await admin.request('GET', '/healthz');
  assert.equal(res.status, 200, res.text);
  return res.body as Health;
}

/** Polls the health report until `done` holds (at most `ms`): the shipper probes the spool every second. */
async function healthUntil(admin: TestClient, done: (health: Health) => boolean, ms = 5000): Promise<Health> {
  const deadline = performance.now() + ms;
  let health = await healthOf(admin);
  while (!done(health) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    health = await healthOf(admin);
  }
  return health;
}

describe('the spool on a full disk', () => {
  let work: string;
  let usersFile: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'sentinel-diskfull-'));
    usersFile = join(work, 'users.json');
    await addUserToFile(usersFile, 'ops', PASSWORD, { roles: ['user', 'admin'], scrypt: TEST_SCRYPT });
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  /**
   * Spool-only mode (the demo's): nothing is shipped, so nothing leaves the spool and frees space, and what the
   * spool holds is exactly what a later run would ship.
   */
  async function startOnFullDisk(tmpfs: { dir: string }, extra: Record<string, string> = {}): Promise<{ running: RunningServer; admin: TestClient; spool: string; filler: string }> {
    const spool = join(tmpfs.dir, 'spool');
    const running = await startFromEnvironment({ SPOOL_DIR: spool, AUTH_USERS_FILE: usersFile, ...extra }, true);
    const admin = new TestClient(running.url);
    assert.equal((await admin.login('ops', PASSWORD)).status, 200);
    const health = await healthOf(admin);
    assert.equal(health.status, 'ok');
    assert.equal(health.shipper.spoolWritable, true);
    assert.equal(health.shipper.dropped, 0);
    const filler = fill(tmpfs.dir);
    // The chunk being filled may still have room in its last page; sealed, the next line needs a page of its own.
    await running.shipper!.flush(0);
    return { running, admin, spool, filler };
  }

  /** The names of the failed logins the spool holds. */
  function failedLoginsIn(spool: string): string[] {
    return readdirSync(spool).filter((name) => name.startsWith('chunk-')).flatMap((name) => readFileSync(join(spool, name), 'utf8').split('\n').filter(Boolean))
      .map((line) => JSON.parse(line) as { event?: { action?: string }; user?: { name?: string } })
      .filter((doc) => doc.event?.action === 'authn_login_fail').map((doc) => doc.user?.name ?? '');
  }

  it('SPOOL_ON_FAILURE=drop (default): keeps serving, reports degraded, counts each lost security event, and recovers when space returns', async () => {
    const tmpfs = mountSmallTmpfs();
    let running: RunningServer | undefined;
    try {
      const started = await startOnFullDisk(tmpfs);
      running = started.running;
      const { admin, spool, filler } = started;
      const sent = 4;
      for (let i = 0; i < sent; i += 1) assert.equal((await new TestClient(running.url).login(`nobody-${i}`, 'wrong password')).status, 401, 'still serving');
      assert.equal((await admin.request('GET', '/api/hello')).status, 200, 'still serving signed-in requests');
      let health = await healthOf(admin);
      assert.equal(health.status, 'degraded');
      assert.equal(health.shipper.spoolWritable, false);
      assert.equal(health.shipper.droppedSecurity, sent, 'one authn_login_fail event lost per failed login, each counted');
      assert.ok(health.shipper.dropped >= sent);
      assertWholeLines(spool);
      assert.deepEqual(failedLoginsIn(spool), []);

      rmSync(filler);
      health = await healthUntil(admin, (h) => h.shipper.spoolWritable);
      assert.equal(health.shipper.spoolWritable, true, 'the spool probe found space again');
      assert.equal(health.status, 'ok');
      assert.equal((await new TestClient(running.url).login('after-recovery', 'wrong password')).status, 401);
      await running.shipper!.flush(0);
      assert.equal((await healthOf(admin)).shipper.droppedSecurity, sent, 'nothing lost after recovery');
      assert.deepEqual(failedLoginsIn(spool), ['after-recovery'], 'the spool holds the event written after recovery, and none of the lost ones');
      assertWholeLines(spool);
    } finally {
      await running?.close(2000);
      removeSpool(join(tmpfs.dir, 'spool'), 'disk-full-drop');
      tmpfs.release();
    }
  });

  it('SPOOL_ON_FAILURE=refuse: answers 503 dependency_unavailable (never on /healthz) while the spool cannot be written, and serves again when space returns', async () => {
    const tmpfs = mountSmallTmpfs();
    let running: RunningServer | undefined;
    try {
      const started = await startOnFullDisk(tmpfs, { SPOOL_ON_FAILURE: 'refuse' });
      running = started.running;
      const { admin, filler } = started;
      // The request whose events find the disk full is served; it is the last one.
      assert.equal((await new TestClient(running.url).login('nobody', 'wrong password')).status, 401);
      for (const [method, path] of [['GET', '/api/hello'], ['POST', '/auth/login'], ['GET', '/auth/me']] as const) {
        const res = await admin.request(method, path, method === 'POST' ? { json: { username: 'ops', password: PASSWORD } } : {});
        assert.equal(res.status, 503, `${method} ${path}: ${res.text}`);
        assert.deepEqual(res.body, { error: { code: 'dependency_unavailable', message: 'A backing service is temporarily unavailable.' } });
        assert.equal(res.headers.get('retry-after'), '5');
      }
      const health = await healthOf(admin);
      assert.equal(health.status, 'degraded', '/healthz still answers');
      assert.equal(health.shipper.spoolWritable, false);
      assert.equal(health.shipper.droppedSecurity, 1, 'the one failed login that was served');

      rmSync(filler);
      const deadline = performance.now() + 5000;
      let status = 503;
      while (status === 503 && performance.now() < deadline) {
        status = (await admin.request('GET', '/api/hello')).status;
        if (status === 503) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(status, 200, 'served again once the probe found space');
      assert.equal((await healthOf(admin)).status, 'ok');
    } finally {
      await running?.close(2000);
      removeSpool(join(tmpfs.dir, 'spool'), 'disk-full-refuse');
      tmpfs.release();
    }
  });
});
