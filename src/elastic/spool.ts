import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The on-disk side of the shipper: a folder of chunk files, one NDJSON document per line, named so that sorting
 * by name is sorting by age across restarts. A chunk file is deleted only once every document in it has been
 * delivered or dead-lettered, so whatever is on disk is exactly what is still owed to Elasticsearch.
 */

export interface ChunkFile {
  name: string;
  path: string;
  bytes: number;
}

export interface ChunkWriter {
  readonly name: string;
  readonly path: string;
  /** Appends lines; written to the OS at once when `sync`, otherwise buffered until the next sync append or close. */
  append(text: string, sync: boolean): void;
  /** Writes what is buffered (write(2), no fsync: a killed process loses nothing, a lost machine may). */
  flush(): void;
  close(): void;
}

export interface Spool {
  readonly dir: string;
  /** Chunk files left by an earlier run (or this one), oldest first. */
  list(): ChunkFile[];
  create(): ChunkWriter;
  read(path: string): string[];
  remove(path: string): void;
  /** Appends one JSON line to deadletter.ndjson; kept forever, for people to inspect. */
  deadLetter(entry: Record<string, unknown>): void;
}

const CHUNK = /^chunk-\d{14}-\d{8}\.ndjson$/;

export function createSpool(dir: string): Spool {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let seq = 0;
  const stamp = (): string => `${String(Date.now()).padStart(14, '0')}-${String(seq++ % 1e8).padStart(8, '0')}`;
  return {
    dir,
    list() {
      return readdirSync(dir)
        .filter((name) => CHUNK.test(name))
        .sort()
        .map((name) => ({ name, path: join(dir, name), bytes: statSync(join(dir, name)).size }));
    },
    create() {
      const name = `chunk-${stamp()}.ndjson`;
      const path = join(dir, name);
      const fd = openSync(path, 'a', 0o600);
      let buffer = '';
      let open = true;
      const flush = (): void => {
        if (!buffer || !open) return;
        const data = buffer;
        buffer = '';
        writeSync(fd, data);
      };
      return {
        name,
        path,
        append(text, sync) {
          buffer += text;
          if (sync || buffer.length > 256 * 1024) flush();
        },
        flush,
        close() {
          if (!open) return;
          flush();
          open = false;
          closeSync(fd);
        },
      };
    },
    read(path) {
      if (!existsSync(path)) return [];
      return readFileSync(path, 'utf8').split('\n').filter((line) => line.length > 0);
    },
    remove(path) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
    deadLetter(entry) {
      appendFileSync(join(dir, 'deadletter.ndjson'), `${JSON.stringify(entry)}\n`, { mode: 0o600 });
    },
  };
}
