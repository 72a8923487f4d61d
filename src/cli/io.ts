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
  // Done, with something to act on: alerts found, objects Kibana refused, Elasticsearch refusing the templates.
  findings: 1,
  // Not done: a usage or configuration error, or a service that cannot be reached or refuses the credentials.
  error: 2,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
