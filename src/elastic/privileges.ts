/**
 * The Elasticsearch identities of a koa-sentinel deployment, each with the least it needs (docs/elasticsearch.md#privileges).
 * A compromised app must not be able to read, rewrite or delete the audit trail meant to catch it (OWASP ASVS V7.3:
 * logs protected from modification), so the app may only create documents, under ids it cannot overwrite.
 *
 * The same definitions come out as role descriptors (`PUT _security/role/<name>`), a `roles.yml` for the file realm
 * (which even the minimal distribution has), and API-key requests (`POST _security/api_key`).
 */
import { ConfigurationError } from '../errors.js';

/** Who talks to Elasticsearch. */
export type SentinelIdentity = 'setup' | 'app' | 'jobs' | 'retention' | 'analyst';

export interface IndexPrivilege {
  names: string[];
  privileges: string[];
}

/** A role descriptor as `PUT _security/role/<name>` and an API key's `role_descriptors` take it. */
export interface RoleDescriptor {
  cluster: string[];
  indices: IndexPrivilege[];
  metadata: { managed_by: 'koa-sentinel'; identity: SentinelIdentity };
}

/** What each identity does, for the printed table and the docs. */
export const IDENTITY_PURPOSES: Readonly<Record<SentinelIdentity, string>> = {
  setup: 'koa-sentinel setup: reads the server version, installs the index templates',
  app: 'the server\'s shipper: creates documents in its daily indices; never reads, overwrites or deletes',
  jobs: 'the anomaly job and the daily review: read events, write alerts and the anomaly checkpoint',
  retention: 'the retention job: lists and deletes expired daily indices',
  analyst: 'people and dashboards: read every family',
};

export const IDENTITIES = Object.keys(IDENTITY_PURPOSES) as SentinelIdentity[];

/** The role, user and API-key name of an identity: `<prefix>_<identity>`. */
export function identityName(prefix: string, identity: SentinelIdentity): string {
  return `${prefix}_${identity}`;
}

/** Every role descriptor, by role name. */
export function buildRoles(prefix: string): Record<string, RoleDescriptor> {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(prefix)) throw new ConfigurationError(`The index prefix must be lowercase letters, digits, - or _ (got "${prefix}").`);
  const family = (name: string): string => `${prefix}-${name}-*`;
  const daily = ['events', 'access', 'alerts', 'deadletter'].map(family);
  const state = `${prefix}-anomaly-state`;
  const grants: Record<SentinelIdentity, Omit<RoleDescriptor, 'metadata'>> = {
    // monitor: the node info API (the version check); manage_index_templates covers component templates too.
    // The mapping-put action alone (no named privilege is that narrow: `manage` could delete indices), so setup can
    // add new fields to the days that already exist.
    setup: { cluster: ['monitor', 'manage_index_templates'], indices: [{ names: daily, privileges: ['indices:admin/mapping/put'] }] },
    // create_doc allows a create with our own _id and nothing else: a second create is a 409, which the shipper
    // counts as delivered. auto_configure creates tomorrow's daily index from its template.
    app: { cluster: [], indices: [{ names: daily, privileges: ['create_doc', 'auto_configure'] }] },
    // Alerts are created, then updated when notified; reviews and the checkpoint are replaced (index).
    jobs: {
      cluster: [],
      indices: [
        { names: [family('events')], privileges: ['read'] },
        { names: [family('alerts'), state], privileges: ['read', 'create_doc', 'index', 'auto_configure'] },
      ],
    },
    // _cat/indices needs the cluster state (cluster monitor) and index monitor; delete_index removes whole days,
    // never single documents.
    retention: { cluster: ['monitor'], indices: [{ names: daily, privileges: ['monitor', 'delete_index'] }] },
    analyst: { cluster: [], indices: [{ names: daily, privileges: ['read', 'view_index_metadata'] }] },
  };
  return Object.fromEntries(IDENTITIES.map((identity) => [
    identityName(prefix, identity),
    { ...grants[identity], metadata: { managed_by: 'koa-sentinel', identity } },
  ]));
}

/** A `roles.yml` for the file realm. Each role is one line of flow-style YAML (JSON is YAML). */
export function buildRolesYaml(prefix: string): string {
  const lines = Object.entries(buildRoles(prefix)).map(([name, role]) => `${name}: ${JSON.stringify({ cluster: role.cluster, indices: role.indices })}`);
  return `# koa-sentinel roles for the index prefix "${prefix}" (koa-sentinel setup roles --format yaml)\n${lines.join('\n')}\n`;
}

/** Bodies for `POST _security/api_key`, one per identity, each limited to its own role. */
export function buildApiKeyRequests(prefix: string, expiration?: string): Record<SentinelIdentity, { name: string; expiration?: string; role_descriptors: Record<string, RoleDescriptor>; metadata: { managed_by: 'koa-sentinel' } }> {
  const roles = buildRoles(prefix);
  return Object.fromEntries(IDENTITIES.map((identity) => {
    const name = identityName(prefix, identity);
    return [identity, { name, ...(expiration ? { expiration } : {}), role_descriptors: { [name]: roles[name]! }, metadata: { managed_by: 'koa-sentinel' as const } }];
  })) as ReturnType<typeof buildApiKeyRequests>;
}

/** The security API calls this module makes; an 8.19 or 9.x client fits. */
export interface SecurityClient {
  security: {
    putRole(request: { name: string; cluster: string[]; indices: IndexPrivilege[]; metadata?: Record<string, unknown> }): Promise<unknown>;
    putUser(request: { username: string; password: string; roles: string[]; metadata?: Record<string, unknown> }): Promise<unknown>;
  };
}

/** Placeholders from example files: refused as passwords wherever we see one. */
export function isPlaceholderSecret(value: string): boolean {
  return /^(change-?me|changeme|password|secret|example)\b/i.test(value.trim());
}

export const MIN_IDENTITY_PASSWORD_LENGTH = 16;

/**
 * Creates (or updates) every role, then a native user for each identity given a password. Needs `manage_security`:
 * run it once as a superuser, never as one of these identities.
 */
export async function createIdentities(client: SecurityClient, prefix: string, passwords: Partial<Record<SentinelIdentity, string>> = {}): Promise<{ roles: string[]; users: string[] }> {
  for (const [identity, password] of Object.entries(passwords)) {
    if (password === undefined) continue;
    if (isPlaceholderSecret(password) || password.length < MIN_IDENTITY_PASSWORD_LENGTH) {
      throw new ConfigurationError(`The password of the ${identity} identity must be at least ${MIN_IDENTITY_PASSWORD_LENGTH} characters and not a placeholder.`);
    }
  }
  const roles = buildRoles(prefix);
  for (const [name, role] of Object.entries(roles)) await client.security.putRole({ name, ...role });
  const users: string[] = [];
  for (const identity of IDENTITIES) {
    const password = passwords[identity];
    if (password === undefined) continue;
    const username = identityName(prefix, identity);
    await client.security.putUser({ username, password, roles: [username], metadata: { managed_by: 'koa-sentinel' } });
    users.push(username);
  }
  return { roles: Object.keys(roles), users };
}
