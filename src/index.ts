// The public library surface: re-exports only (docs/architecture.md#layers). Everything the reference server and the
// CLI use comes from here; they are worked examples of composing it.
// ctx.request.body is typed by koa-bodyparser's declarations (jsonBody() fills it): users get them with ours.
/// <reference types="koa-bodyparser" preserve="true" />
import './session/types.js';

// The whole stack from one options object
export { createSentinel, type Sentinel, type SentinelOptions, type SentinelEnrichmentOptions, type SentinelHealth, type SentinelElasticsearchOptions, type SentinelJobOptions, type SentinelHttpOptions } from './sentinel.js';

// Errors and configuration
export { ERROR_CODES, CONFIGURATION_ERROR_CODES, SentinelError, ConfigurationError, ElasticsearchError, isSentinelError, type ErrorCode, type ConfigurationErrorCode } from './errors.js';
export { loadConfig, redactUrl, type Config, type KeySpec } from './config/env.js';
export { loadKibanaEnv, type KibanaEnv } from './config/kibana-env.js';
export { parseDuration, formatDuration } from './config/duration.js';

// Security events
export { EVENT_CATALOGUE, isEventAction, type EventAction, type CatalogueEntry } from './events/catalogue.js';
export { buildSecurityEvent, ECS_VERSION, type SecurityEvent, type SecurityEventInput } from './events/security-event.js';

// Sessions
export { createSessionKit, type SessionKit, type SessionKitOptions } from './session/session-kit.js';
export { createKeyRing, createEphemeralKeyRing, generateKey, type KeyRing, type KeyInput, type SigningAlgorithm, type GeneratedKey } from './session/key-ring.js';
export { secretWeakness, randomnessProblem, HMAC_MIN_BYTES, BASE64URL_PREFIX } from './session/hmac-secret.js';
export { createTokenService, TokenTooLargeError, type TokenService, type TokenClaims, type TokenType } from './session/tokens.js';
export { createMemoryStore, type SessionStore, type SessionFamily, type RotateResult, type SessionActivity, type ListFamiliesOptions } from './session/store.js';
export { createRedisStore, SessionStoreError, type RedisStore, type RedisStoreOptions, type RedisStoreStatus, type StoreClock } from './session/redis-store.js';
export { createLoginThrottle, DEFAULT_THROTTLE_POLICIES, type ThrottlePolicy, type ThrottleScope } from './session/login-throttle.js';
export { hashPassword, verifyPassword, parsePasswordHash, DEFAULT_SCRYPT, type ScryptParams } from './session/passwords.js';
export {
  createFileUserDirectory, createMemoryUserDirectory, addUserToFile, updateUserInFile, withPasswordHash, normalizeUsername, sessionStampOf,
  newSessionStamp, createCredentialFingerprint, MAX_ROLES_BYTES, USERS_FILE_REJECTED, type UserDirectory, type UserRecord, type FileUserDirectoryOptions,
} from './session/users.js';
export { createPasswordPolicy, describeRejection, PASSWORD_POLICY_DEFAULTS, type PasswordPolicy, type PasswordPolicyOptions, type PasswordRejection, type PasswordCheck } from './session/password-policy.js';
export { createBreachedPasswordCheck, BREACHED_PASSWORD_DEFAULTS, type BreachedPasswordCheck, type BreachedPasswordCheckOptions } from './session/breached-passwords.js';
export { deviceLabel } from './session/device-label.js';
export type { SessionView } from './session/session-routes.js';
export type { SessionUser, SentinelAuthState } from './session/types.js';

// HTTP middlewares
export { requestContext, type RequestTiming } from './http/request-context.js';
export { clientAddress, clientAddressOf, type ClientAddressOptions, type TrustProxy } from './http/client-address.js';
export { securityHeaders, type SecurityHeadersOptions } from './http/security-headers.js';
export { errorHandler, toSentinelError, type ErrorHandlerOptions } from './http/error-handler.js';
export { jsonOnly } from './http/json-only.js';
export { jsonBody, type JsonBodyOptions } from './http/json-body.js';
export { createLoginHistoryRoutes, type LoginHistoryRoutesOptions } from './http/login-history-routes.js';

// Logging
export { createLogger, logSecurityEvent, serializeError, type LoggerOptions, type Level } from './logging/logger.js';
export { createRequestLogger, type RequestLoggerOptions } from './logging/request-logger.js';
export { toEcsDocument, ecsRawStream, ecsJsonStream, type EcsDocument, type DocumentSink } from './logging/ecs.js';
export { redact, redactString, REDACTED } from './logging/redact.js';

// Enrichment: where clients are, what they use
export { createEnricher, type EnricherOptions } from './enrich/enricher.js';
export { openGeoLookup, defaultGeoDatabases, GEO_DEFAULTS, type GeoDatabaseOptions, type GeoDatabaseInfo, type OpenedGeoLookup } from './enrich/geo-lookup.js';
export { createUserAgentParser, parseUserAgent, USER_AGENT_DEFAULTS, type UserAgentParserOptions } from './enrich/user-agent.js';
export { geolocatableAddress, SPECIAL_RANGES } from './enrich/special-addresses.js';
export type { Enricher, GeoLookup, GeoResult, SourceGeo, SourceAs, ParsedUserAgent } from './enrich/types.js';

// Elasticsearch
export { createElasticClient, describeElasticError, serverVersion, type ElasticClient, type ElasticConnectionOptions } from './elastic/client.js';
export { createShipper, type Shipper, type ShipperOptions, type ShipperStats, type ShippedDocument, type Timers } from './elastic/shipper.js';
export { setupElasticsearch, SUPPORTED_MAJORS, type SetupResult } from './elastic/setup.js';
export { buildRoles, buildRolesYaml, buildApiKeyRequests, createIdentities, identityName, isPlaceholderSecret, IDENTITIES, IDENTITY_PURPOSES, MIN_IDENTITY_PASSWORD_LENGTH, type SentinelIdentity, type RoleDescriptor, type IndexPrivilege, type SecurityClient } from './elastic/privileges.js';
export { buildTemplates, dailyIndex, INDEX_FAMILIES, type IndexFamily, type TemplateSet } from './elastic/templates.js';
export { createRetention, expiredIndices, DEFAULT_RETENTION_DAYS, type RetentionDays, type RetentionOptions, type RetentionResult } from './elastic/retention.js';
export { createLoginHistory, type LoginHistoryOptions, type LoginHistoryPage, type LoginHistoryQuery, type LoginHistoryEntry } from './elastic/login-history.js';

// Anomaly detection and scheduled jobs
export { createAnomalyRunner, type AnomalyRunner, type AnomalyRunnerOptions, type RunOptions, type RunResult } from './anomaly/runner.js';
export { RULES, createRuleSet, createImpossibleTravelRule, createNewCountryRule, createSessionCountryChangeRule, type LocationRuleOptions, type Rule, type Finding, type Window, type Severity } from './anomaly/rules/index.js';
export type { AlertDocument } from './anomaly/alerts.js';
export { createLogNotifier, createWebhookNotifier, alertText, type Notifier, type WebhookOptions } from './anomaly/notifiers.js';
export { buildDailyReview, storeDailyReview, formatDailyReview, type DailyReview, type NewDevice } from './anomaly/review.js';
export { renderReviewHtml } from './anomaly/review-html.js';
export { printable } from './printable.js';
export { scheduleAnomalyRuns, scheduleDailyReview, scheduleRetention, JOB_DEFAULTS, type ScheduledJob, type JobHooks, type DailyReviewJobOptions, type RetentionJobOptions } from './jobs.js';

// Kibana saved objects
export { buildSavedObjects, toNdjson, parseNdjson, rewriteIndexPrefix, isValidIndexPrefix, DEFAULT_INDEX_PREFIX, SHIPPED_FILE as KIBANA_OBJECTS_FILE } from './kibana/saved-objects.js';
export { importSavedObjects, describeImportError, KibanaError, type KibanaImportOptions, type KibanaImportResult } from './kibana/import.js';
