// The public library surface: re-exports only (DESIGN.md §1). The reference server and CLI are not exported.
import './session/types.js';

export { ERROR_CODES, SentinelError, ConfigurationError, isSentinelError, type ErrorCode } from './errors.js';
export { loadConfig, secretWeakness, type Config, type KeySpec } from './config/env.js';
export { parseDuration, formatDuration } from './config/duration.js';
export { EVENT_CATALOGUE, isEventAction, type EventAction, type CatalogueEntry } from './events/catalogue.js';
export { buildSecurityEvent, ECS_VERSION, type SecurityEvent, type SecurityEventInput } from './events/security-event.js';
export { createSessionKit, type SessionKit, type SessionKitOptions } from './session/session-kit.js';
export { createKeyRing, createEphemeralKeyRing, generateKey, type KeyRing, type KeyInput, type SigningAlgorithm } from './session/key-ring.js';
export { createTokenService, type TokenService, type TokenClaims, type TokenType } from './session/tokens.js';
export { createMemoryStore, type SessionStore, type SessionFamily, type RotateResult } from './session/store.js';
export { createRedisStore, SessionStoreError, type RedisStore, type RedisStoreOptions, type RedisStoreStatus } from './session/redis-store.js';
export { createLoginThrottle, DEFAULT_THROTTLE_POLICIES, type ThrottlePolicy, type ThrottleScope } from './session/login-throttle.js';
export { hashPassword, verifyPassword, parsePasswordHash, DEFAULT_SCRYPT, type ScryptParams } from './session/passwords.js';
export { createFileUserDirectory, createMemoryUserDirectory, addUserToFile, normalizeUsername, type UserDirectory, type UserRecord } from './session/users.js';
export type { SessionUser, SentinelAuthState } from './session/types.js';
export { createLogger, serializeError, type LoggerOptions } from './logging/logger.js';
