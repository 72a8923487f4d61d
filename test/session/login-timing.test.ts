import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startTestServer, type TestClient, type TestServer } from '../support/http-server.js';
import { mulberry32 } from '../support/random.js';
import { SAME_COST_BAND, judgeSameCost, median } from '../support/same-cost.js';

/**
 * ASVS 6.3.8: an unknown user must cost the same as a known one with a wrong password, so timing cannot enumerate
 * accounts. Statistical on purpose: interleaved pairs judged by their paired median ratio, within ±15 %
 * (test/support/same-cost.ts), which a consistent 40 % difference cannot pass. Every path runs one scrypt of the
 * test cost (ln=10, a few ms), which dominates; a quick exit for unknown users would skip it and land far outside.
 */

const PAIRS = 96;
const WARM_UP = 8;
/**
 * A measurement is taken again when it misses the band, at most this often: a burst of load from other test files
 * can skew one measurement, while a consistent difference misses it every time.
 */
const ATTEMPTS = 2;
/** No throttle scope may ever delay these requests. */
const UNTHROTTLED = { freeAttempts: 1_000_000, baseDelayMs: 1, maxDelayMs: 1, windowMs: 1 };

type Body = Record<string, unknown>;
type Sampler = (i: number) => Promise<number>;

/** The old criterion: passes when any of 5 rounds' ratio of medians lies in [0.67, 1.5]. Kept to show what it let through. */
function oldCriterion(rounds: Array<{ a: number[]; b: number[] }>): boolean {
  return rounds.some(({ a, b }) => {
    const ratio = median(a) / median(b);
    return ratio >= 0.67 && ratio <= 1.5;
  });
}

/**
 * Synthetic timings of one request kind costing `cost` ms of work, as a loaded 2-core machine returns them: a load
 * factor shared by the two samples of a pair (up to 4x), independent jitter, and one sample in eight preempted for
 * 5 to 30 ms.
 */
function syntheticPairs(seed: number, costA: number, costB: number, pairs: number): { a: number[]; b: number[] } {
  const random = mulberry32(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const sample = (cost: number, load: number): number => cost * load * Math.exp(0.15 * gauss()) + (random() < 0.125 ? 5 + 25 * random() : 0);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < pairs; i += 1) {
    const load = Math.exp(Math.log(4) * random());
    a.push(sample(costA, load));
    b.push(sample(costB, load));
  }
  return { a, b };
}

describe('the same-cost criterion (synthetic timings, positive control)', () => {
  it('passes equal costs and fails a consistent 40 % difference either way, under the same noise', () => {
    for (let seed = 1; seed <= 20; seed += 1) {
      const equal = syntheticPairs(seed, 3, 3, PAIRS);
      assert.ok(judgeSameCost(equal.a, equal.b).pass, `seed ${seed}: equal costs pass (ratio ${judgeSameCost(equal.a, equal.b).ratio.toFixed(3)})`);
      const slower = syntheticPairs(seed, 3 * 1.4, 3, PAIRS);
      assert.equal(judgeSameCost(slower.a, slower.b).pass, false, `seed ${seed}: a 40 % slower a fails (ratio ${judgeSameCost(slower.a, slower.b).ratio.toFixed(3)})`);
      const faster = syntheticPairs(seed, 3, 3 * 1.4, PAIRS);
      assert.equal(judgeSameCost(faster.a, faster.b).pass, false, `seed ${seed}: a 40 % slower b fails`);
    }
  });

  it('is stricter than the old any-of-5-rounds band, which let a consistent 40 % difference pass', () => {
    const rounds = Array.from({ length: 5 }, (_, round) => syntheticPairs(100 + round, 3 * 1.4, 3, 48));
    assert.equal(oldCriterion(rounds), true, 'the old criterion passes a 40 % difference');
    const pooled = { a: rounds.flatMap((r) => r.a), b: rounds.flatMap((r) => r.b) };
    assert.equal(judgeSameCost(pooled.a, pooled.b).pass, false, 'the paired median does not');
  });
});

describe('login timing', () => {
  let server: TestServer;
  let client: TestClient;
  before(async () => {
    server = await startTestServer({ session: { throttle: { account_source: UNTHROTTLED, account: UNTHROTTLED, source: UNTHROTTLED } } });
    client = server.client();
  });
  after(() => server.close());

  /** Milliseconds for one login attempt, from sending the request to the end of the response body. */
  async function time(json: Body): Promise<number> {
    const started = performance.now();
    const res = await client.request('POST', '/auth/login', { json });
    const elapsed = performance.now() - started;
    assert.equal(res.status, 401, `${JSON.stringify(json)}: ${res.text}`);
    return elapsed;
  }

  /** Interleaved pairs, alternating which goes first, so drift and warm-up hit both alike. */
  async function pairs(a: Sampler, b: Sampler): Promise<{ a: number[]; b: number[] }> {
    for (let i = 0; i < WARM_UP; i += 1) {
      await a(i);
      await b(i);
    }
    const as: number[] = [];
    const bs: number[] = [];
    for (let i = 0; i < PAIRS; i += 1) {
      if (i % 2 === 0) {
        as.push(await a(i));
        bs.push(await b(i));
      } else {
        bs.push(await b(i));
        as.push(await a(i));
      }
    }
    return { a: as, b: bs };
  }

  /**
   * Measures until the paired median is within the band (at most ATTEMPTS times). The passing measurement must
   * also fail with 40 % added to either side, so a pass always means a 40 % difference would have been seen.
   */
  async function assertSameCost(t: TestContext, label: string, a: Sampler, b: Sampler): Promise<void> {
    const misses: string[] = [];
    for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
      const measured = await pairs(a, b);
      const verdict = judgeSameCost(measured.a, measured.b);
      if (!verdict.pass) {
        misses.push(verdict.ratio.toFixed(3));
        continue;
      }
      t.diagnostic(`${label}: paired median ratio ${verdict.ratio.toFixed(3)} over ${verdict.pairs} pairs (median ${median(measured.a).toFixed(2)} / ${median(measured.b).toFixed(2)} ms)`);
      assert.equal(judgeSameCost(measured.a.map((ms) => ms * 1.4), measured.b).pass, false, `${label}: these samples with 40 % added to the first would fail`);
      assert.equal(judgeSameCost(measured.a, measured.b.map((ms) => ms * 1.4)).pass, false, `${label}: these samples with 40 % added to the second would fail`);
      return;
    }
    assert.fail(`${label}: the paired median ratio was outside [${(1 / SAME_COST_BAND).toFixed(3)}, ${SAME_COST_BAND}] in all ${ATTEMPTS} measurements: ${misses.join(', ')}`);
  }

  const wrongPassword = (i: number): Promise<number> => time({ username: 'alice', password: `wrong password ${i}` });

  it('an unknown user costs the same as a known user with a wrong password', async (t) => {
    await assertSameCost(t, 'unknown user / wrong password', (i) => time({ username: `nobody-${i}`, password: `wrong password ${i}` }), wrongPassword);
    const reasons = new Set(server.eventsOf('authn_login_fail').map((event) => event.event.reason));
    assert.deepEqual([...reasons].sort(), ['bad_password', 'unknown_user']);
    assert.equal(server.eventsOf('excess_rate_limit_exceeded').length, 0, 'the throttle never interfered');
  });

  it('a malformed body costs the same as a wrong password', async (t) => {
    const shapes: Body[] = [{ username: 42, password: 'x' }, { username: 'alice' }, {}, { username: 'a\u0000b', password: 'x' }];
    await assertSameCost(t, 'malformed body / wrong password', (i) => time(shapes[i % shapes.length]!), wrongPassword);
    assert.ok(server.eventsOf('authn_login_fail').some((event) => event.event.reason === 'malformed'));
    assert.equal(server.eventsOf('excess_rate_limit_exceeded').length, 0, 'the throttle never interfered');
  });

  it('can tell a request that skips the hash: the measurement is sensitive enough to mean something', async () => {
    // A text/plain body is refused (415) before any hashing: this is what a quick exit would look like.
    const noHash = async (): Promise<number> => {
      const started = performance.now();
      const res = await client.request('POST', '/auth/login', { body: 'username=alice', headers: { 'content-type': 'text/plain' } });
      const elapsed = performance.now() - started;
      assert.equal(res.status, 415);
      return elapsed;
    };
    const measured = await pairs(noHash, wrongPassword);
    const verdict = judgeSameCost(measured.a, measured.b);
    assert.equal(verdict.pass, false, `median without hash ${median(measured.a).toFixed(2)} ms vs with ${median(measured.b).toFixed(2)} ms: paired ratio ${verdict.ratio.toFixed(3)} should be outside the band`);
    assert.ok(verdict.ratio < 1, 'and below it: skipping the hash is cheaper');
  });
});
