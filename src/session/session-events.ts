import { createHmac } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import { clientAddressOf } from '../http/client-address.js';
import { buildSecurityEvent, type SecurityEvent, type SecurityEventInput } from '../events/security-event.js';
import type { EmitEvent } from './types.js';

/**
 * Security events of the session kit, built from the request they concern. Session ids never reach an event:
 * `sentinel.session_id` carries a keyed hash of the id instead (ASVS 16.3: no session identifiers in logs).
 */

export interface SessionEventsOptions {
  /** Receives every event. A throw is swallowed: logging never stops the app. Without it, nothing is built. */
  onEvent?: (event: SecurityEvent) => void;
  /** Stands in for a session id wherever an event names one. */
  sessionRef: (sessionId: string) => string;
}

/**
 * The keyed hash that stands for a session id in events and in GET /auth/me. Keyed by a secret every instance
 * shares, so every instance computes the same reference and events still correlate.
 */
export function createSessionRef(key: Buffer): (sessionId: string) => string {
  if (!Buffer.isBuffer(key) || key.length < 16) throw new ConfigurationError('The session reference key must be a Buffer of at least 16 bytes.');
  return (sessionId) => createHmac('sha256', key).update(sessionId).digest('base64url').slice(0, 22);
}

export function createSessionEvents(options: SessionEventsOptions): EmitEvent {
  const { onEvent, sessionRef } = options;
  if (onEvent !== undefined && typeof onEvent !== 'function') throw new ConfigurationError('options.onEvent must be a function.');
  if (typeof sessionRef !== 'function') throw new ConfigurationError('options.sessionRef must be a function.');

  const withSessionRef = (fields: Record<string, unknown>): Record<string, unknown> => {
    if (typeof fields.session_id === 'string') fields.session_id = sessionRef(fields.session_id);
    return fields;
  };

  return (ctx, action, input: SecurityEventInput = {}) => {
    if (!onEvent) return;
    try {
      const user = ctx.state.user;
      onEvent(buildSecurityEvent(action, {
        user: user ? { name: user.name, id: user.id, roles: user.roles } : undefined,
        // The address the clientAddress middleware resolved (trusted proxies only), never X-Forwarded-For as sent.
        source: { ip: clientAddressOf(ctx) },
        userAgent: ctx.get('user-agent') || undefined,
        urlPath: ctx.path,
        ...input,
        http: { method: ctx.method, requestId: ctx.state.requestId, ...input.http },
        sentinel: withSessionRef({ ...(user ? { session_id: user.sessionId, token_id: user.tokenId } : {}), ...input.sentinel }),
      }));
    } catch {
      // A broken event sink must never turn into a failed request (ASVS 16.5.1); the shipper reports its own health.
    }
  };
}
