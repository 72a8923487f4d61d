import type { SessionFamily } from '../store.js';
import { SessionStoreError } from './errors.js';

/**
 * How the store's data is laid out in Redis: key names under the prefix, and a family as a flat hash (the field
 * list the Lua scripts read and write). Every key of one store starts with its prefix, so several apps can share
 * one Redis.
 */

export interface RedisKeys {
  /** The hash of one refresh family. */
  family(id: string): string;
  /** The set of a user's family ids. */
  userFamilies(userId: string): string;
  /** A user's not-before time (seconds). */
  notBefore(userId: string): string;
  /** The global cut-off (ms since epoch): every family created before it is revoked. */
  cutoff: string;
  /** One failed-login counter. */
  failure(key: string): string;
  /** The pub/sub channel of revocation notices. */
  channel: string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    family: (id) => `${prefix}fam:${id}`,
    userFamilies: (userId) => `${prefix}ufam:${userId}`,
    notBefore: (userId) => `${prefix}nbf:${userId}`,
    cutoff: `${prefix}cutoff`,
    failure: (key) => `${prefix}fail:${key}`,
    channel: `${prefix}revoked`,
  };
}

const FAMILY_FIELDS = 9;

/** HSET's field, value, ... list. Strings as stored: numbers in decimal, roles as JSON, booleans as '0'/'1'. */
export function familyFields(family: SessionFamily): string[] {
  return [
    'userId', family.userId,
    'userName', family.userName,
    'roles', JSON.stringify(family.roles),
    'createdAt', String(family.createdAt),
    'lastRotatedAt', String(family.lastRotatedAt),
    'currentJti', family.currentJti,
    'previousJti', family.previousJti ?? '',
    'revoked', family.revoked ? '1' : '0',
    'absoluteExpiresAt', String(family.absoluteExpiresAt),
    ...(family.lastUsedAt === undefined ? [] : ['lastUsedAt', String(family.lastUsedAt)]),
    ...(family.sourceIp === undefined ? [] : ['sourceIp', family.sourceIp]),
    ...(family.device === undefined ? [] : ['device', family.device]),
  ];
}

/** HGETALL's flat reply back to a family; an incomplete hash is a store_reply error, never a half-read family. */
export function parseFamily(id: string, flat: readonly string[]): SessionFamily {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  if (Object.keys(f).length < FAMILY_FIELDS) throw new SessionStoreError('store_reply', 'parseFamily', new Error(`family ${id} is incomplete in Redis`));
  return {
    id,
    userId: f.userId!,
    userName: f.userName!,
    roles: JSON.parse(f.roles!) as string[],
    createdAt: Number(f.createdAt),
    lastRotatedAt: Number(f.lastRotatedAt),
    currentJti: f.currentJti!,
    previousJti: f.previousJti === '' ? null : f.previousJti!,
    revoked: f.revoked === '1',
    absoluteExpiresAt: Number(f.absoluteExpiresAt),
    // The activity fields exist once the session has been used (touchFamily).
    ...(f.lastUsedAt === undefined ? {} : { lastUsedAt: Number(f.lastUsedAt) }),
    ...(f.sourceIp === undefined ? {} : { sourceIp: f.sourceIp }),
    ...(f.device === undefined ? {} : { device: f.device }),
  };
}
