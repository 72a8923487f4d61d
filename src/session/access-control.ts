import type { Middleware } from 'koa';
import compose from 'koa-compose';
import { ConfigurationError, SentinelError } from '../errors.js';
import type { EmitEvent } from './types.js';

/**
 * Route guards over what authenticate found: requireAuth refuses a request without a valid session (logging why
 * its token failed), requireRole one whose user lacks every named role (ASVS 8.2.1: deny by default).
 */

export interface AccessControl {
  requireAuth: Middleware;
  requireRole(...roles: string[]): Middleware;
}

export function createAccessControl(options: { emit: EmitEvent }): AccessControl {
  const { emit } = options;

  const requireAuth: Middleware = async (ctx, next) => {
    if (!ctx.state.user) {
      const error = ctx.state.authError ?? new SentinelError('token_invalid', { reason: 'missing' });
      // A genuine token of a revoked session is someone holding a dead credential (OWASP authn_token_reuse).
      if (error.code === 'token_invalid' && error.reason === 'revoked') {
        emit(ctx, 'authn_token_reuse', { reason: 'revoked', http: { statusCode: error.status }, sentinel: { token_type: 'access' } });
      } else if (error.code === 'token_invalid' || error.code === 'token_expired') {
        emit(ctx, 'authn_token_invalid', { reason: error.reason, http: { statusCode: error.status }, sentinel: { token_type: 'access' } });
      }
      throw error;
    }
    await next();
  };

  function requireRole(...roles: string[]): Middleware {
    if (roles.length === 0 || !roles.every((role) => typeof role === 'string' && role !== '')) {
      throw new ConfigurationError('requireRole needs at least one role name.');
    }
    const check: Middleware = async (ctx, next) => {
      const user = ctx.state.user!;
      if (!roles.some((role) => user.roles.includes(role))) {
        emit(ctx, 'authz_fail', { reason: 'missing_role', message: `Refused for lack of a role: requires ${roles.join(' or ')}.`, http: { statusCode: 403 }, sentinel: { required_roles: roles } });
        throw new SentinelError('forbidden', { reason: 'role' });
      }
      await next();
    };
    return compose([requireAuth, check]);
  }

  return { requireAuth, requireRole };
}
