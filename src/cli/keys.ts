import { parseArgs } from 'node:util';
import { ConfigurationError, generateKey, type SigningAlgorithm } from '../index.js';
import { EXIT, type CliIo } from './io.js';

const ALGORITHMS: readonly SigningAlgorithm[] = ['HS256', 'HS384', 'HS512', 'EdDSA', 'ES256', 'RS256', 'PS256'];
const USAGE = 'Usage: koa-sentinel keys generate [--alg HS256|EdDSA|ES256|RS256] [--kid id]\n';

/**
 * `koa-sentinel keys generate`: a key ring for JWT_KEYS_FILE. HMAC secrets are written `base64url:<text>`,
 * which createKeyRing (and so the server) reads as the random bytes, not as the text.
 */
export function keysCommand(args: string[], io: CliIo): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { alg: { type: 'string' }, kid: { type: 'string' } } });
  if (positionals[0] !== 'generate') {
    io.stderr.write(USAGE);
    return EXIT.error;
  }
  const alg = (values.alg ?? 'EdDSA') as SigningAlgorithm;
  if (!ALGORITHMS.includes(alg)) throw new ConfigurationError(`Unsupported --alg ${alg}.`);
  const kid = values.kid ?? `${alg.toLowerCase()}-${new Date().toISOString().slice(0, 10)}`;
  io.stdout.write(`${JSON.stringify({ active: kid, keys: [generateKey(alg, kid)] }, null, 2)}\n`);
  return EXIT.ok;
}
