import type { Readable, Writable } from 'node:stream';

/** What a command may touch: its streams and the environment, passed in so tests can drive it in-process. */
export interface CliIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

/** Exit codes, the same meaning for every command (scripts and CI jobs test them). */
export const EXIT = {
  // Done, nothing to act on.
  ok: 0,
  // Done, with something to act on: new alerts, objects Kibana refused, Elasticsearch refusing the templates.
  findings: 1,
  // Not done: a usage or configuration error (for the commands without code 3: also a service that cannot be
  // reached or refuses the credentials).
  error: 2,
  // Not done: Elasticsearch cannot be reached, refuses the credentials or the request (the anomalies commands).
  unavailable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * A problem with what the operator asked for, not with a service: `usage` (an unknown option, a value that cannot
 * be read), `output_failed` (a file the command was told to write cannot be written). Exit code 2.
 */
export class CliError extends Error {
  readonly code: 'usage' | 'output_failed';

  constructor(code: CliError['code'], message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
  }
}

export { printable } from '../index.js';
