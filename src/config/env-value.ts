/**
 * One environment variable, trimmed; unset, empty and white space alone all mean "not set" (a compose file's
 * `FOO=` is a blank, not a value), so the fallback applies.
 */
export function envValue(env: NodeJS.ProcessEnv, name: string, fallback?: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? fallback : value.trim();
}
